"""The embedded mode under the distributed pipeline's test: 20,000 commands across 500 aggregates.

The in-process runner tails the SQLite logs while the commands are written,
and is stopped and started again half-way (a restart of the platform); after
quiescence the read models equal a rebuild from the event store row for
row, every aggregate's row reflects its last event (order kept), and each
graph's ``change_count`` equals its number of events (none applied twice).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from adapters.event_log import reader
from adapters.projection_runner import ProjectionRunner
from adapters.read_store import rebuild_projection
from adapters.settings import Settings
from api.composition import build_container
from domain.agent_format import GraphPayload, content_from_payload
from domain.graph import Graph
from projections.registry import all_projections
from tests.integration.test_pipeline_processes import AGGREGATES, COMMANDS, TABLES, _run_commands
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator


async def test_20000_commands_embedded_read_models_equal_a_rebuild(tmp_path: Path) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    try:
        payload = GraphPayload.model_validate(calculator("g"))
        graphs = [
            Graph.create(f"user-{i % 7}", content_from_payload(payload, fresh_ids=True)) for i in range(AGGREGATES)
        ]
        for graph in graphs:
            container.graphs.save(graph)
        projections = all_projections()
        runner = ProjectionRunner(container.read_store, projections, container.event_logs)
        await runner.start()
        await asyncio.to_thread(_run_commands, container, graphs, AGGREGATES, 10_000)
        await runner.close()  # a restart half-way: the next runner resumes from the stored positions
        runner = ProjectionRunner(container.read_store, projections, container.event_logs)
        await runner.start()
        await asyncio.to_thread(_run_commands, container, graphs, 10_000, COMMANDS)
        head = container.event_logs["graphs"].head()
        readers = [p for p in projections if "graphs" in p.contexts]
        for _ in range(6000):  # quiescence, within a minute
            if all(container.read_store.positions(p.name).get("graphs", 0) >= head for p in readers):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the runner did not catch up with the graphs log")
        await runner.close()

        live = {table: table_rows(container.read_store, table, order) for table, order in TABLES.items()}
        assert len(live["graphs"]) == AGGREGATES
        assert len(live["graph_versions"]) == COMMANDS
        last_position: dict[str, int] = {}
        events_of: Counter[str] = Counter()
        for event in container.event_logs["graphs"].read(0, 10_000_000):
            last_position[event.aggregate_id] = event.position
            events_of[event.aggregate_id] += 1
        assert {row["graph_id"]: row["last_position"] for row in live["graphs"]} == last_position
        assert {row["graph_id"]: row["change_count"] for row in live["graphs"]} == dict(events_of)
        for projection in projections:
            if "graphs" in projection.contexts:
                rebuild_projection(container.read_store, projection, reader(container.event_logs))
        assert {table: table_rows(container.read_store, table, order) for table, order in TABLES.items()} == live
    finally:
        container.close()
