"""kill -9 of a real executor process mid-run, on PostgreSQL, then a restart that finishes the run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from api.composition import Container
from application.results import RunRequested
from domain.agent_format import GraphPayload
from domain.execution import GraphExecution
from tests.fakes.http_server import FakeHTTPServer
from tests.unit.engine.harness import resumes_of

pytestmark = pytest.mark.integration

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"
STEPS = 6
STEP_SECONDS = 0.5


def serve(role: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``agentgraph serve --role ROLE`` as a real process, its output appended to ``log``."""
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--role", role],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def request_run(container: Container, graph_id: str) -> RunRequested:
    """Start the slow chain for alice."""
    return container.executions.request_execution(
        user_id="alice",
        graph_id=graph_id,
        graph_version=1,
        graph=container.graphs.graph_for_run("alice", graph_id, 1),
        lookup=container.blocks.get,
        inputs={"start": {"n": 0}},
    )


def wait_for_step_3(server: FakeHTTPServer, workers: list[subprocess.Popen[bytes]], log: Path) -> None:
    """Until steps 1 and 2 are done and 3 is in flight (and their events are stored)."""
    deadline = time.monotonic() + 60
    while server.hits("/step/3") == 0:
        assert time.monotonic() < deadline, log.read_text()
        assert all(p.poll() is None for p in workers), log.read_text()
        time.sleep(0.01)
    time.sleep(0.15)  # let the group commit land the completed steps


def wait_until_ended(container: Container, execution_id: UUID, log: Path, timeout: float) -> GraphExecution:
    """The run once it is COMPLETED, FAILED or TERMINATED."""
    deadline = time.monotonic() + timeout
    while True:
        run = container.executions.load(execution_id)
        assert run is not None
        if run.status in ("COMPLETED", "FAILED", "TERMINATED"):
            return run
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def _chain(server: FakeHTTPServer) -> GraphPayload:
    """Input -> step 1 -> ... -> step N -> Output; each step is a slow HTTP call."""
    nodes = [{"id": "in", "block_id": INPUT, "input_default": {"name": "start"}}]
    links = []
    previous, pin = "in", "result"
    for step in range(1, STEPS + 1):
        path = f"/step/{step}"
        server.delay(path, STEP_SECONDS)
        request = {"url": server.url(path), "method": "POST"}
        nodes.append({"id": f"s{step}", "block_id": WEB_REQUEST, "input_default": request})
        links.append({"source_id": previous, "source_name": pin, "sink_id": f"s{step}", "sink_name": "body"})
        previous, pin = f"s{step}", "response_#_json"
    nodes.append({"id": "out", "block_id": OUTPUT, "input_default": {"name": "final"}})
    links.append({"source_id": previous, "source_name": pin, "sink_id": "out", "sink_name": "value"})
    return GraphPayload.model_validate({"name": "slow chain", "nodes": nodes, "links": links})


def test_kill_9_mid_run_then_restart_completes_without_rerunning_completed_nodes(
    env: dict[str, str], container: Container, tmp_path: Path
) -> None:
    log = tmp_path / "executor.log"
    with FakeHTTPServer() as server:
        view = container.graphs.create_graph("alice", _chain(server), fresh_ids=False)
        first = serve("executor", env, log)
        try:
            execution = request_run(container, str(view.aggregate_id))
            wait_for_step_3(server, [first], log)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()

        before = container.executions.load(UUID(str(execution.aggregate_id)))
        assert before is not None and before.status == "RUNNING"
        done_before = {n.node_id for n in before.node_executions.values() if n.status == "COMPLETED"}
        assert {"in", "s1", "s2"} <= done_before
        assert "s3" not in done_before

        second = serve("executor", env, log)
        try:
            final = wait_until_ended(container, execution.aggregate_id, log, timeout=60)
            assert second.poll() is None, log.read_text()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)

        assert final.status == "COMPLETED", log.read_text()
        assert resumes_of(container.executions, final.id) == 1
        for step in range(1, STEPS + 1):
            expected = 1 if f"s{step}" in done_before else (2 if step == 3 else 1)
            assert server.hits(f"/step/{step}") == expected, (step, server.hits(f"/step/{step}"))
        statuses = [n.status for n in final.node_executions.values()]
        assert statuses.count("COMPLETED") == STEPS + 2
        assert final.outputs["final"] == [{"n": 0}]
