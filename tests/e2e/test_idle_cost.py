"""An idle embedded server costs (almost) nothing: its followers sleep until a commit wakes them.

``agentgraph serve`` runs as a real process with every role (API, projector,
executor) on SQLite; after it ran a graph and went quiet, its own CPU time
over 30 s must stay under 1 % of one core (uvicorn's own tick included).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.serving import embedded_server
from tests.unit.api.graph_samples import calculator

MEASURED_SECONDS = 30.0
IDLE_CPU_LIMIT = 0.01  # of one core


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], int]]:
    with embedded_server(tmp_path) as (base, env, proc):
        yield base, env, proc.pid


def _run_a_graph(base: str, env: dict[str, str]) -> None:
    """Give every role something to do first, so what stays awake afterwards shows."""
    token = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", "idle-user"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{base}/api/graphs", json={"graph": calculator()}, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    graph_id = created.json()["id"]
    started = httpx.post(
        f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 8}}, headers=headers, timeout=10
    )
    assert started.status_code == 200, started.text
    run_url = f"{base}/api/graphs/{graph_id}/executions/{started.json()['id']}"
    deadline = time.monotonic() + 30
    while httpx.get(run_url, headers=headers, timeout=10).json().get("status") != "COMPLETED":
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.1)


def test_an_idle_embedded_server_uses_under_one_percent_of_a_core(
    serving: tuple[str, dict[str, str], int],
) -> None:
    base, env, pid = serving
    _run_a_graph(base, env)
    server = psutil.Process(pid)
    time.sleep(2)  # let the read models catch up with the run
    before, started = server.cpu_times(), time.monotonic()
    time.sleep(MEASURED_SECONDS)
    after, elapsed = server.cpu_times(), time.monotonic() - started
    used = (after.user - before.user) + (after.system - before.system)
    share = used / elapsed
    print(f"idle embedded server: {share:.2%} of a core over {elapsed:.0f} s")
    assert share < IDLE_CPU_LIMIT, f"idle server used {share:.2%} of a core over {elapsed:.0f} s"
