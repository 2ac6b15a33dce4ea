"""Distributed (PostgreSQL + Kafka): a stop reaches a tight loop through the relay and ends it within a second or so."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.settings import Settings
from api.bootstrap import ExecutorService, RelayService
from api.composition import build_container
from domain.agent_format import GraphPayload
from tests.unit.api.graph_samples import CALCULATOR, INPUT

pytestmark = pytest.mark.integration

LOOP = {
    "name": "loop",
    "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
        {"id": "c1", "block_id": CALCULATOR, "input_default": {"b": 1, "operation": "Add"}},
        {"id": "c2", "block_id": CALCULATOR, "input_default": {"b": 1, "operation": "Add"}},
    ],
    "links": [
        {"source_id": "in", "sink_id": "c1", "source_name": "result", "sink_name": "a"},
        {"source_id": "c1", "sink_id": "c2", "source_name": "result", "sink_name": "a"},
        {"source_id": "c2", "sink_id": "c1", "source_name": "result", "sink_name": "a"},
    ],
}


@pytest.fixture
async def settings(
    postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    yield Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        AGENTGRAPH_KAFKA_BOOTSTRAP=kafka_bootstrap,
        AGENTGRAPH_KAFKA_TOPIC_PREFIX=kafka_topic_prefix.rstrip("."),
        AGENTGRAPH_KAFKA_PARTITIONS=2,
        AGENTGRAPH_MAX_NODE_EXECUTIONS=10_000_000,
        JWT_VERIFY_KEY="kafka-stop-loop-" + "k" * 40,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
    )


async def test_stopping_a_tight_loop_over_kafka_is_recorded_within_a_second_or_so(settings: Settings) -> None:
    container = build_container(settings)
    relay, executor = RelayService(container), ExecutorService(container)
    executions = container.executions
    try:
        await relay.start()
        await executor.start()
        graph_id = str(container.graphs.create_graph("alice", GraphPayload.model_validate(LOOP)).aggregate_id)
        run_id = executions.request_execution(
            user_id="alice",
            graph_id=graph_id,
            graph_version=1,
            graph=container.graphs.graph_for_run("alice", graph_id, 1),
            lookup=container.blocks.get,
            inputs={"Input": 0},
        ).aggregate_id
        deadline = time.monotonic() + 60
        while (await asyncio.to_thread(executions.peek, "alice", run_id)).status != "RUNNING":
            assert time.monotonic() < deadline, "the loop never started"
            await asyncio.sleep(0.05)
        await asyncio.sleep(6)  # thousands of events between the run's start and the stop

        asked = time.monotonic()
        await asyncio.to_thread(executions.request_stop, "alice", run_id)
        while (await asyncio.to_thread(executions.peek, "alice", run_id)).status == "RUNNING":
            assert time.monotonic() - asked < 300
            await asyncio.sleep(0.02)
        took = time.monotonic() - asked
        assert (await asyncio.to_thread(executions.peek, "alice", run_id)).status == "TERMINATED"
        assert took < 3.0, f"stop took {took:.1f} s"
    finally:
        await executor.stop()
        await relay.stop()
        container.close()
