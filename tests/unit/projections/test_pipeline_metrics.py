"""Lag and throughput figures of the pipeline, measured against the event store."""

from __future__ import annotations

import threading
from pathlib import Path

from adapters.pipeline_metrics import PipelineMetrics, RelayCounters
from adapters.projection_runner import ProjectionRunner
from adapters.settings import Settings
from adapters.throughput import Throughput
from api.composition import build_container
from domain.agent_format import GraphPayload
from projections.registry import all_projections
from tests.unit.api.graph_samples import calculator
from tests.unit.engine.harness import INPUT, OUTPUT, link, node, start_platform
from tests.unit.projections.catching_up import run_until_caught_up


async def test_lag_is_head_minus_what_was_applied(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path):
        graph = platform.add_graph(
            [node("in", INPUT, name="x"), node("out", OUTPUT, name="y")], [link("in", "result", "out", "value")]
        )
        await platform.run(graph, {"x": 1})
        logs = platform.container.event_logs
        store = platform.container.read_store
        published = {"graphs": logs["graphs"].head()}  # as if a relay had published the graphs log only
        metrics = PipelineMetrics(store, all_projections(), logs, mode="embedded", relay_positions=published.copy)
        before = metrics.snapshot()
        assert before.projections["graphs"]["graphs"].lag == logs["graphs"].head() > 0
        assert before.projections["executions"]["executions"].lag == logs["executions"].head() > 0
        runner = ProjectionRunner(store, all_projections(), logs)
        await run_until_caught_up(runner, logs)
        assert runner.received.total == logs["graphs"].head() + logs["executions"].head()
        after = metrics.snapshot()
        assert {f.lag for by_context in after.projections.values() for f in by_context.values()} == {0}
        assert {context: figures.relay_lag for context, figures in after.contexts.items()} == {
            "graphs": 0,
            "executions": logs["executions"].head(),
            "accounts": 0,
            "store": 0,
            "schedules": 0,
        }


def test_throughput_counts_batches() -> None:
    counter = Throughput()
    counter.add(10)
    counter.add(30)
    assert (counter.total, counter.batches, counter.largest_batch, counter.average_batch) == (40, 2, 30, 20.0)
    assert counter.per_second > 0


def test_a_snapshot_reports_the_relay_position_and_the_counters_of_this_process(tmp_path: Path) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    try:
        container.graphs.create_graph("dora", GraphPayload.model_validate(calculator()))
        container.graphs.create_graph("dora", GraphPayload.model_validate(calculator("Second")))
        published, active = Throughput(), threading.Event()
        published.add(1)
        active.set()
        metrics = PipelineMetrics(
            container.read_store,
            all_projections(),
            container.event_logs,
            mode="distributed",
            relay_positions=lambda: {"graphs": 1},  # what the relay recorded; nothing of executions yet
            relay=RelayCounters(published, active),
        )

        snapshot = metrics.snapshot()

        assert snapshot.contexts["graphs"].model_dump() == {"head": 2, "relay_position": 1, "relay_lag": 1}
        assert snapshot.contexts["executions"].model_dump() == {"head": 0, "relay_position": 0, "relay_lag": 0}
        assert snapshot.projections["graphs"]["graphs"].model_dump() == {"applied": 0, "lag": 2, "parked": 0}
        assert snapshot.relay is not None and snapshot.relay.active
        assert (snapshot.relay.published.events, snapshot.relay.published.largest_batch) == (1, 1)
        assert snapshot.projector is None
    finally:
        container.close()
