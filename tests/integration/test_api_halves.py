"""The API in two halves, as real processes on one PostgreSQL: a write through one, read through the other.

``agentgraph serve --role api-commands``, ``--role api-queries``,
``--role projector`` (the read side needs one somewhere) and ``--role
executor``, set up by ``agentgraph db init``. A graph created through the
commands process is read through the queries process with the consistency
token the command answered; a run started through the commands process is
followed to its end on the queries process's SSE stream and read there;
each half refuses the other's methods.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import Processes
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration


@pytest.fixture
def env(postgres_dsn: str, tmp_path: Path) -> dict[str, str]:
    """A distributed deployment's environment without Kafka or Redis (the projector reads the event stores)."""
    return {
        **{k: v for k, v in os.environ.items() if k not in ("AGENTGRAPH_KAFKA_BOOTSTRAP", "AGENTGRAPH_REDIS_URL")},
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "JWT_VERIFY_KEY": "halves-test-" + "k" * 40,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "400",
    }


def test_a_graph_written_through_the_commands_process_is_read_through_the_queries_process(
    env: dict[str, str], processes: Processes
) -> None:
    init = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    for worker in ("projector", "executor"):
        processes.start(worker, env)
        processes.wait_for_line(worker, f"running: {worker}")
    commands = processes.serve("api-commands", env)
    queries = processes.serve("api-queries", env)
    assert "roles api-commands" in processes.log("api-commands").read_text()
    assert "roles api-queries" in processes.log("api-queries").read_text()
    token = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", "alice"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}

    created = httpx.post(f"{commands}/api/graphs", json={"graph": calculator()}, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    graph_id = created.json()["id"]
    read_own_write = {**headers, "X-Consistency-Token": created.headers["X-Consistency-Token"]}
    graph = httpx.get(f"{queries}/api/graphs/{graph_id}", headers=read_own_write, timeout=10)
    assert graph.status_code == 200, graph.text
    assert "X-Consistency-Stale" not in graph.headers
    assert len(graph.json()["nodes"]) == 3 and len(graph.json()["links"]) == 2
    listed = httpx.get(f"{queries}/api/graphs", headers=read_own_write, timeout=10).json()
    assert [meta["id"] for meta in listed] == [graph_id]

    started = httpx.post(
        f"{commands}/api/graphs/{graph_id}/execute/1",
        json={"inputs": {"Input": 8}},
        headers=headers,
        timeout=10,
    )
    assert started.status_code == 200, started.text
    run_id = started.json()["id"]
    with httpx.stream(
        "GET", f"{queries}/api/executions/{run_id}/events", headers=headers, timeout=60
    ) as stream:  # replays from the executions log, then live, and ends with the run
        assert stream.status_code == 200
        events = [line.removeprefix("event: ") for line in stream.iter_lines() if line.startswith("event: ")]
    assert events[-1] == "graph_execution_event" and "node_execution_event" in events
    run_seen = {**headers, "X-Consistency-Token": started.headers["X-Consistency-Token"]}
    deadline = time.monotonic() + 30
    while (run := _run(queries, run_seen, graph_id, run_id))["status"] in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline, processes.logs()
        time.sleep(0.2)
    assert run["status"] == "COMPLETED", run
    assert run["outputs"] == {"Output": [42.0]}

    # each half answers only its own methods
    assert httpx.post(f"{queries}/api/graphs", json={"graph": calculator()}, headers=headers).status_code == 405
    assert httpx.get(f"{commands}/api/graphs", headers=headers, timeout=10).status_code == 405
    for base in (commands, queries):
        assert httpx.get(f"{base}/ready", timeout=10).json()["status"] == "ready"

    codes = processes.stop_all()
    # uvicorn re-raises the SIGTERM it caught; the projector ends cleanly
    assert codes == {
        "projector": 0,
        "executor": 0,
        "api-commands": -signal.SIGTERM,
        "api-queries": -signal.SIGTERM,
    }, processes.logs()


def _run(base: str, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
