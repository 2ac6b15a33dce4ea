"""An executor process dies mid-run on Kafka: the group's other executor takes its partitions and resumes the run.

Real processes: a relay and two ``serve --role executor`` workers in one
consumer group, PostgreSQL and the Kafka broker. The worker running a slow
chain is killed (kill -9) while a step is in flight; once the group notices
(its session times out), the other worker owns the partition, resumes the
run from the aggregate's events and completes it: completed steps are not
run again, only the in-flight one.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.kafka_topics import ensure_topics
from adapters.settings import Settings
from api.composition import Container, build_container
from tests.fakes.http_server import FakeHTTPServer
from tests.integration.test_executor_crash_postgres import (
    STEPS,
    _chain,
    request_run,
    serve,
    wait_for_step_3,
    wait_until_ended,
)
from tests.unit.engine.harness import resumes_of

pytestmark = pytest.mark.integration

PARTITIONS = 4


@pytest.fixture
def env(postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "AGENTGRAPH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "AGENTGRAPH_KAFKA_TOPIC_PREFIX": kafka_topic_prefix.rstrip("."),
        "AGENTGRAPH_KAFKA_PARTITIONS": str(PARTITIONS),
        "JWT_VERIFY_KEY": "takeover-" + "k" * 40,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS": "true",
    }


@pytest.fixture
def container(env: dict[str, str]) -> Iterator[Container]:
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("AGENTGRAPH_", "JWT_"))})
    built = build_container(settings)
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, settings.kafka_topic_prefix, sorted(built.event_logs), PARTITIONS)
    yield built
    built.close()


def test_the_other_executor_resumes_a_run_whose_executor_died(
    env: dict[str, str], container: Container, tmp_path: Path
) -> None:
    log = tmp_path / "workers.log"
    with FakeHTTPServer() as server:
        view = container.graphs.create_graph("alice", _chain(server), fresh_ids=False)
        workers = [serve(role, env, log) for role in ("relay", "executor", "executor")]
        executors = {process.pid: process for process in workers[1:]}
        try:
            execution = request_run(container, str(view.aggregate_id))
            wait_for_step_3(server, workers, log)
            running = container.executions.load(execution.aggregate_id)
            assert running is not None and running.executor_id is not None
            owner = int(running.executor_id.split("-")[-2])  # executor-<host>-<pid>-<id>
            assert owner in executors, running.executor_id
            executors[owner].send_signal(signal.SIGKILL)
            executors[owner].wait(timeout=10)
            done_before = {n.node_id for n in running.node_executions.values() if n.status == "COMPLETED"}
            final = wait_until_ended(container, execution.aggregate_id, log, timeout=90)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()

        assert final.status == "COMPLETED", log.read_text()
        assert resumes_of(container.executions, final.id) == 1
        survivor = next(pid for pid in executors if pid != owner)
        assert int(final.executor_id.split("-")[-2]) == survivor
        assert {"in", "s1", "s2"} <= done_before
        for step in range(1, STEPS + 1):  # completed steps ran once; the one in flight ran again
            assert server.hits(f"/step/{step}") == (2 if f"s{step}" not in done_before and step == 3 else 1), step
        assert final.outputs["final"] == [{"n": 0}]
