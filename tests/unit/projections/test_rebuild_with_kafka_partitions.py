"""A rebuild swapped in under a Kafka projector: every partition keeps a position, none is applied twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from adapters.event_log import reader
from adapters.kafka_topics import partition_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.composition import build_container
from domain.agent_format import GraphPayload, content_from_payload
from domain.graph import Graph
from projections.envelope import EventEnvelope
from projections.registry import projection_named
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator

PARTITIONS = 4


def _polled(events: list[EventEnvelope], partitions: set[int]) -> list[tuple[str, int, list[EventEnvelope], int]]:
    """What a Kafka poll of ``partitions`` from their first offset hands the projector."""
    by_partition: dict[int, list[EventEnvelope]] = {}
    for event in events:
        by_partition.setdefault(partition_for(event.routing_key, PARTITIONS), []).append(event)
    return [("graphs", p, batch, len(batch) - 1) for p, batch in sorted(by_partition.items()) if p in partitions]


def test_partitions_no_projector_consumed_yet_are_not_applied_again_after_a_rebuild(tmp_path: Path) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    try:
        content = content_from_payload(GraphPayload.model_validate(calculator("g")), fresh_ids=True)
        for i in range(24):
            graph = Graph.create(f"user-{i % 3}", content)
            graph.add_version(content.model_copy(update={"name": f"g{i} v2"}))
            container.graphs.save(graph)
        events = container.event_logs["graphs"].read(0, 1000)
        projection = projection_named("graphs")
        store = container.read_store
        consumed = {partition_for(events[0].routing_key, PARTITIONS)}
        assert len({partition_for(e.routing_key, PARTITIONS) for e in events}) > 1, "the graphs span partitions"

        # a projector has consumed one partition when the rebuild is swapped in
        store.apply_polled([projection], _polled(events, consumed))
        rebuild_projection(
            store,
            projection,
            reader(container.event_logs),
            partitions=Partitioning(PARTITIONS, lambda key: partition_for(key, PARTITIONS)),
        )
        rebuilt = table_rows(store, "graphs", "graph_id")
        # then projectors consume every partition from its first offset (nothing was committed for the others)
        store.apply_polled([projection], _polled(events, set(range(PARTITIONS))))

        assert table_rows(store, "graphs", "graph_id") == rebuilt
        events_of = Counter(event.aggregate_id for event in events)
        assert {row["graph_id"]: row["change_count"] for row in rebuilt} == dict(events_of)
        assert set(events_of.values()) == {2}  # created; a new version (activated with it)
    finally:
        container.close()
