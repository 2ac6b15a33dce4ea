"""Each role builds only what it needs: worker processes start without a JWT key, and only the API holds one.

Real processes against PostgreSQL and Kafka, set up by ``agentgraph db init``:
``serve --role relay``, ``--role projector`` and ``--role executor`` run
without ``JWT_VERIFY_KEY``; an ``--role api`` process with the key takes the
example graph and a run. The run waits, QUEUED, while no executor runs (the
API starts none), and completes once the executor process is up. PostgreSQL
shows which processes opened a read-store pool: the API and the projector,
never the relay or the executor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.serving import Processes

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "examples" / "calculator.json"
KEY = "roles-test-" + "k" * 40


@pytest.fixture
def env(postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    """A distributed deployment's environment, without JWT_VERIFY_KEY."""
    return {
        **{k: v for k, v in os.environ.items() if k not in ("JWT_VERIFY_KEY", "JWT_ALGORITHM")},
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "AGENTGRAPH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "AGENTGRAPH_KAFKA_TOPIC_PREFIX": kafka_topic_prefix.rstrip("."),
        "AGENTGRAPH_KAFKA_PARTITIONS": "2",
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "400",
    }


def _read_store_holders(dsn: str, processes: Processes) -> set[str]:
    """The roles whose process holds a read-store connection (named ``agentgraph-read-<pid>``)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        names = {name for (name,) in conn.execute("SELECT application_name FROM pg_stat_activity")}
    return {role for role, process in processes.started.items() if f"agentgraph-read-{process.pid}" in names}


def _status(base: str, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_workers_start_without_a_jwt_key_and_only_the_api_opens_what_the_api_needs(
    env: dict[str, str], processes: Processes, postgres_dsn: str, tmp_path: Path
) -> None:
    init = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    prefix = env["AGENTGRAPH_KAFKA_TOPIC_PREFIX"]
    for store in ("graphs_events", "executions_events", "read.executions", f"{prefix}.graphs", f"{prefix}.schedules"):
        assert store in init.stdout, init.stdout

    # the workers: no JWT_VERIFY_KEY in their environment
    for role in ("relay", "projector"):
        processes.start(role, env)
    processes.wait_for_line("relay", "running: relay")
    processes.wait_for_line("relay", "relay is active")
    processes.wait_for_line("projector", "running: projector")

    api_env = {**env, "JWT_VERIFY_KEY": KEY}
    base = processes.serve("api", api_env)

    token = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", "alice"],
        env=api_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "signed with JWT_VERIFY_KEY" in token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    json_headers = {**headers, "Content-Type": "application/json"}
    created = httpx.post(f"{base}/api/graphs", content=EXAMPLE.read_bytes(), headers=json_headers, timeout=10)
    assert created.status_code == 200, created.text
    graph_id = created.json()["id"]
    started = httpx.post(
        f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": {"a": 6, "b": 7}}, headers=headers, timeout=10
    )
    assert started.status_code == 200, started.text
    run_id = started.json()["id"]
    seen = {**headers, "X-Consistency-Token": started.headers["X-Consistency-Token"]}
    time.sleep(2)  # time enough for an executor, had the API started one
    assert _status(base, seen, graph_id, run_id)["status"] == "QUEUED"

    processes.start("executor", env)
    processes.wait_for_line("executor", "running: executor")
    deadline = time.monotonic() + 90
    while (run := _status(base, headers, graph_id, run_id))["status"] in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline, processes.logs()
        time.sleep(0.2)
    assert run["status"] == "COMPLETED", json.dumps(run)
    assert run["outputs"] == {"product": [42.0]}

    # the projector's and the API's pools are open (so the check can see one); the relay and executor have none
    assert _read_store_holders(postgres_dsn, processes) == {"api", "projector"}
    codes = processes.stop_all()
    # workers end cleanly on SIGTERM; uvicorn shuts the API down, then re-raises the signal it caught
    assert codes == {"relay": 0, "projector": 0, "api": -signal.SIGTERM, "executor": 0}, processes.logs()
    assert "Application shutdown complete" in processes.log("api").read_text()
