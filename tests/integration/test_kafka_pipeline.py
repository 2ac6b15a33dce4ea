"""Event store -> relay -> Kafka -> projector -> read models, with real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from adapters.background_worker import BackgroundWorker
from adapters.event_log import reader
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay, relay_position
from adapters.kafka_topics import partition_for, topic_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.composition import Container, build_container
from application import command_metadata
from domain.agent_format import GraphPayload
from projections.registry import all_projections
from tests.fixtures.services import kafka_consumer_config
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

PARTITIONS = 3
TABLES = {
    "graphs": "graph_id",
    "graph_versions": "graph_id, version",
    "executions": "execution_id",
    "node_executions": "node_exec_id",
    "graph_stats": "graph_id",
    "user_stats": "user_id",
    "block_usage": "block_id",
    "audit_log": "event_id",
}


@pytest.fixture
def container(postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path) -> Iterator[Container]:
    built = build_container(
        Settings(
            AGENTGRAPH_DATABASE_URL=postgres_dsn,
            AGENTGRAPH_KAFKA_BOOTSTRAP=kafka_bootstrap,
            AGENTGRAPH_KAFKA_TOPIC_PREFIX=kafka_topic_prefix.rstrip("."),
            AGENTGRAPH_KAFKA_PARTITIONS=PARTITIONS,
            JWT_VERIFY_KEY="pipeline-" + "k" * 40,
            AGENTGRAPH_DATA_DIR=tmp_path / "data",
        )
    )
    yield built
    built.close()


class _Running:
    """A worker loop in a thread, stopped at the end."""

    def __init__(self, target: object) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=target, args=(self.stop,), daemon=True)  # type: ignore[arg-type]
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def _expected_by_partition(container: Container) -> dict[tuple[str, int], int]:
    """For each (context, partition): the position of its newest event in the store."""
    expected: dict[tuple[str, int], int] = {}
    for context, log in container.event_logs.items():
        for event in log.read(0, 1_000_000):
            key = (context, partition_for(event.routing_key, PARTITIONS))
            expected[key] = max(expected.get(key, 0), event.position)
    return expected


def _wait_projected(container: Container, timeout: float = 60) -> None:
    expected = _expected_by_partition(container)
    deadline = time.monotonic() + timeout
    while True:
        done = all(
            container.read_store.has_applied(p.name, context, position, partition)
            for p in all_projections()
            for (context, partition), position in expected.items()
            if context in p.contexts
        )
        if done:
            return
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


def _snapshot(container: Container) -> dict[str, list[dict[str, object]]]:
    return {table: table_rows(container.read_store, table, order) for table, order in TABLES.items()}


def _commands(container: Container, graphs: int) -> None:
    for i in range(graphs):
        with command_metadata.acting(user_id=f"user-{i % 4}", request_id=f"req-{i}"):
            view = container.graphs.create_graph(f"user-{i % 4}", GraphPayload.model_validate(calculator(f"g{i}", b=i)))
        if i % 3 == 0:
            container.graphs.update_graph(
                f"user-{i % 4}", view.aggregate_id, GraphPayload.model_validate(calculator(f"g{i} v2"))
            )
        if i % 5 == 0:
            container.graphs.delete_graph(f"user-{i % 4}", view.aggregate_id)


def test_relay_publishes_envelopes_keyed_by_aggregate_with_headers(container: Container) -> None:
    settings = container.settings
    assert settings.database_url and settings.kafka_bootstrap
    _commands(container, 6)
    relay = Relay(
        settings.database_url, container.event_logs, settings.kafka_bootstrap, settings.kafka_topic_prefix, PARTITIONS
    )
    running = _Running(relay.run)
    try:
        head = container.event_logs["graphs"].head()
        deadline = time.monotonic() + 30
        while relay_position(settings.database_url).get("graphs", 0) < head:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        running.close()
    topic = topic_for(settings.kafka_topic_prefix, "graphs")
    consumer = KafkaConsumer(**kafka_consumer_config(settings.kafka_bootstrap))
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        records = []
        deadline = time.monotonic() + 20
        while len(records) < head and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        consumer.close()
    assert sorted(json.loads(r.value)["position"] for r in records) == list(range(1, head + 1))
    for record in records:
        envelope = json.loads(record.value)
        assert record.key.decode() == envelope["aggregate_id"]  # graph events are keyed by their graph
        assert record.partition == partition_for(envelope["aggregate_id"], PARTITIONS)
        headers = dict(record.headers)
        assert headers["type"].decode() == envelope["type"] and envelope["type"].startswith("Graph.")
        assert int(headers["position"]) == envelope["position"]
        assert headers["traceparent"].decode().startswith("00-")
        assert set(envelope) == {
            "id",
            "type",
            "context",
            "aggregate_id",
            "aggregate_version",
            "position",
            "timestamp",
            "data",
            "metadata",
        }
        if envelope["type"] == "Graph.Created":  # who acted travels with the event
            assert envelope["metadata"]["user_id"].startswith("user-")
            assert envelope["metadata"]["request_id"].startswith("req-")


def test_projector_builds_read_models_equal_to_a_rebuild(container: Container) -> None:
    settings = container.settings
    assert settings.database_url and settings.kafka_bootstrap
    relay = Relay(
        settings.database_url, container.event_logs, settings.kafka_bootstrap, settings.kafka_topic_prefix, PARTITIONS
    )
    projector = KafkaProjector(
        container.read_store,
        all_projections(),
        settings.kafka_bootstrap,
        settings.kafka_topic_prefix,
        sorted(container.event_logs),
        group_id=f"{settings.kafka_topic_prefix}.projector",
        consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
    )
    workers = [_Running(relay.run), _Running(projector.run)]
    try:
        _commands(container, 30)
        _wait_projected(container)
        live = _snapshot(container)
        assert len(live["graphs"]) == 30
        assert sum(1 for g in live["graphs"] if g["is_deleted"]) == 6
        assert len(live["graph_versions"]) == 40
        # a rebuild from the event store, swapped in while the projector keeps running
        for projection in all_projections():
            rebuild_projection(
                container.read_store,
                projection,
                reader(container.event_logs),
                partitions=Partitioning(PARTITIONS, lambda key: partition_for(key, PARTITIONS)),
            )
        assert _snapshot(container) == live
        # and it carries on after the swap
        _commands(container, 3)
        _wait_projected(container)
        assert len(_snapshot(container)["graphs"]) == 33
    finally:
        for worker in workers:
            worker.close()


def test_a_relay_whose_lock_session_dies_publishes_only_after_winning_the_lock_again(container: Container) -> None:
    settings = container.settings
    assert settings.database_url and settings.kafka_bootstrap
    relays = [
        Relay(
            settings.database_url,
            container.event_logs,
            settings.kafka_bootstrap,
            settings.kafka_topic_prefix,
            PARTITIONS,
        )
        for _ in range(2)
    ]
    relays[1].application_name += "-standby"  # two relays of one test process: tell their sessions apart
    # as the relay role runs them: a worker restarts a relay whose run ended in an error
    running = [BackgroundWorker(f"relay-{i}", relay.run) for i, relay in enumerate(relays)]
    running[0].start()
    try:
        assert relays[0].active.wait(20)
        running[1].start()
        time.sleep(1)
        assert not relays[1].active.is_set()  # one active relay at a time
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            (killed,) = admin.execute(  # the lock's session dies (a database restart, a network cut)
                "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
            ).fetchone() or (None,)
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
            deadline = time.monotonic() + 20
            while True:  # a relay holds the lock again, in a new session
                holders = admin.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchall()
                if holders and holders[0][0] != killed:
                    break
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert len(holders) == 1
        while sum(relay.active.is_set() for relay in relays) != 1:  # and only its relay publishes
            assert time.monotonic() < deadline, [relay.active.is_set() for relay in relays]
            time.sleep(0.05)
        _commands(container, 3)
        head = container.event_logs["graphs"].head()
        while relay_position(settings.database_url).get("graphs", 0) < head:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        for worker in running:
            worker.stop()
