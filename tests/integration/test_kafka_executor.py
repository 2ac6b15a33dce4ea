"""The executor on Kafka: partition owners run the executions keyed to them."""

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
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

PARTITIONS = 4


@pytest.fixture
async def settings(
    postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> AsyncIterator[Settings]:
    yield Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        AGENTGRAPH_KAFKA_BOOTSTRAP=kafka_bootstrap,
        AGENTGRAPH_KAFKA_TOPIC_PREFIX=kafka_topic_prefix.rstrip("."),
        AGENTGRAPH_KAFKA_PARTITIONS=PARTITIONS,
        JWT_VERIFY_KEY="kafka-executor-" + "k" * 40,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
    )


async def test_two_executors_in_one_group_run_every_execution_once(settings: Settings) -> None:
    container = build_container(settings)
    relay = RelayService(container)
    first, second = ExecutorService(container), ExecutorService(container)
    try:
        await relay.start()
        await first.start()
        graph_id = str(
            container.graphs.create_graph("alice", GraphPayload.model_validate(calculator(b=100))).aggregate_id
        )
        content = container.graphs.graph_for_run("alice", graph_id, 1)
        ids = []
        for i in range(12):
            ids.append(
                container.executions.request_execution(
                    user_id="alice",
                    graph_id=graph_id,
                    graph_version=1,
                    graph=content,
                    lookup=container.blocks.get,
                    inputs={"Input": i},
                ).aggregate_id
            )
            if i == 5:
                await second.start()  # a rebalance in the middle of the work
        deadline = time.monotonic() + 90
        while True:
            peeks = [await asyncio.to_thread(container.executions.peek, "alice", i) for i in ids]
            if all(p.is_finished for p in peeks):
                break
            assert time.monotonic() < deadline, [p.status for p in peeks]
            await asyncio.sleep(0.1)
        for number, execution_id in enumerate(ids):
            run = await asyncio.to_thread(container.executions.load, execution_id)
            assert run is not None
            assert run.status == "COMPLETED"
            assert run.outputs["Output"] == [float(number + 100)]
            assert len(run.node_executions) == 3  # every node ran exactly once
        owners = first.feed.owned, second.feed.owned  # type: ignore[union-attr]
        assert owners[0] | owners[1] == set(range(PARTITIONS))
        assert not owners[0] & owners[1]
    finally:
        await second.stop()
        await first.stop()
        await relay.stop()
        container.close()
