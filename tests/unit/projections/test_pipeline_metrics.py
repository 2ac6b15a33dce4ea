"""Lag and throughput figures of the pipeline, measured against the event store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from adapters.pipeline_metrics import Throughput, projector_lag, relay_lag
from adapters.projection_runner import ProjectionRunner
from projections.registry import all_projections
from tests.unit.engine.harness import INPUT, OUTPUT, link, node, start_platform


async def test_lag_is_head_minus_what_was_applied(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path):
        graph = platform.add_graph(
            [node("in", INPUT, name="x"), node("out", OUTPUT, name="y")], [link("in", "result", "out", "value")]
        )
        await platform.run(graph, {"x": 1})
        logs = platform.container.event_logs
        before = projector_lag(platform.container.read_store, all_projections(), logs)
        assert before["graphs/graphs"] == logs["graphs"].head() > 0
        assert before["executions/executions"] == logs["executions"].head() > 0
        runner = ProjectionRunner(platform.container.read_store, all_projections(), logs)
        await asyncio.to_thread(runner.catch_up)
        after = projector_lag(platform.container.read_store, all_projections(), logs)
        assert set(after.values()) == {0}
        assert relay_lag({"graphs": logs["graphs"].head()}, logs) == {
            "graphs": 0,
            "executions": logs["executions"].head(),
        }


def test_throughput_counts_batches() -> None:
    counter = Throughput()
    counter.add(10)
    counter.add(30)
    assert (counter.total, counter.batches, counter.largest_batch, counter.average_batch) == (40, 2, 30, 20.0)
    assert counter.per_second > 0
