"""An idle embedded server costs (almost) nothing: its followers sleep until a commit wakes them.

``agentgraph serve`` runs as a real process with every role (API, projector,
executor) on SQLite; after it ran a graph and went quiet, its threads are
watched for 30 s. What is counted is how often they wake up (context
switches of every thread, from ``/proc``): uvicorn's tick (10/s), each
follower's safety-net read (1/s) and the GIL hand-overs around them, a few
dozen per second in all; a follower that polled instead of sleeping would
add hundreds. CPU time is printed, and bounded only loosely (a spinning
thread): on a VM whose kernel charges CPU time by the tick, a thread that
wakes on a timer is charged a whole tick each time, so the same idle server
reads 0.7 % one hour and 5 % the next (measured here, old code and new alike).
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
WAKE_UPS_PER_SECOND_LIMIT = 150  # measured idle: 58 to 76 per second, every thread together
SPINNING_CPU_LIMIT = 0.25  # of one core: a thread that never sleeps shows as 100 %


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


def _wake_ups(pid: int) -> dict[str, int]:
    """Context switches so far of each thread of ``pid`` (voluntary and not), by thread id."""
    counts = {}
    for thread in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (thread / "status").read_text()
        except FileNotFoundError:
            continue  # a thread that just ended
        counts[thread.name] = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
    return counts


def test_an_idle_embedded_server_sleeps_until_woken(serving: tuple[str, dict[str, str], int]) -> None:
    base, env, pid = serving
    _run_a_graph(base, env)
    server = psutil.Process(pid)
    time.sleep(2)  # let the read models catch up with the run
    switches, before, started = _wake_ups(pid), server.cpu_times(), time.monotonic()
    time.sleep(MEASURED_SECONDS)
    after, elapsed = server.cpu_times(), time.monotonic() - started
    woken = sum(count - switches.get(thread, 0) for thread, count in _wake_ups(pid).items()) / elapsed
    share = ((after.user - before.user) + (after.system - before.system)) / elapsed
    print(f"idle embedded server: {woken:.0f} wake-ups/s, {share:.2%} of a core over {elapsed:.0f} s")
    assert woken < WAKE_UPS_PER_SECOND_LIMIT, f"idle server woke {woken:.0f} times a second (polling?)"
    assert share < SPINNING_CPU_LIMIT, f"idle server used {share:.2%} of a core over {elapsed:.0f} s (spinning?)"
