"""The Kafka broker goes away for 10 s under load: commands keep working and nothing is lost.

A dedicated broker is frozen (SIGSTOP) for 10 seconds while commands keep
coming, then resumed (SIGCONT): the event store accepted every command, the
relay kept its position until Kafka acknowledged again, and the read models
end up equal to a rebuild from the event store.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.event_log import reader
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay
from adapters.kafka_topics import ensure_topics, partition_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from projections.registry import all_projections, projection_named
from tests.fixtures.services import start_throwaway_kafka
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

PARTITIONS = 3


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[object, str]]:
    server, port = start_throwaway_kafka(tmp_path)
    try:
        yield server, f"127.0.0.1:{port}"
    finally:
        server.proc.send_signal(signal.SIGCONT)
        server.stop()


@pytest.fixture
def container(postgres_dsn: str, broker: tuple[object, str], tmp_path: Path) -> Iterator[Container]:
    built = build_container(
        Settings(
            AGENTGRAPH_DATABASE_URL=postgres_dsn,
            AGENTGRAPH_KAFKA_BOOTSTRAP=broker[1],
            AGENTGRAPH_KAFKA_PARTITIONS=PARTITIONS,
            JWT_VERIFY_KEY="outage-" + "k" * 40,
            AGENTGRAPH_DATA_DIR=tmp_path / "data",
        )
    )
    yield built
    built.close()


def test_ten_seconds_without_kafka_loses_nothing(container: Container, broker: tuple[object, str]) -> None:
    server, bootstrap = broker
    settings = container.settings
    assert settings.database_url
    ensure_topics(bootstrap, settings.kafka_topic_prefix, sorted(container.event_logs), PARTITIONS)
    relay = Relay(settings.database_url, container.event_logs, bootstrap, settings.kafka_topic_prefix, PARTITIONS)
    projector = KafkaProjector(
        container.read_store,
        all_projections(),
        bootstrap,
        settings.kafka_topic_prefix,
        sorted(container.event_logs),
        consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "request_timeout_ms": 20000},
    )
    stop = threading.Event()
    workers = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in (relay, projector)]
    for worker in workers:
        worker.start()
    payload = GraphPayload.model_validate(calculator("load"))
    created = 0
    try:
        started = time.monotonic()
        paused = resumed = False
        while time.monotonic() - started < 18:
            container.graphs.create_graph(f"user-{created % 3}", payload)  # never waits for Kafka
            created += 1
            elapsed = time.monotonic() - started
            if not paused and elapsed > 3:
                server.proc.send_signal(signal.SIGSTOP)  # type: ignore[attr-defined]
                paused = True
            if paused and not resumed and elapsed > 13:
                server.proc.send_signal(signal.SIGCONT)  # type: ignore[attr-defined]
                resumed = True
            time.sleep(0.01)
        assert resumed
        expected: dict[int, int] = {}
        for event in container.event_logs["graphs"].read(0, 1_000_000):
            part = partition_for(event.routing_key, PARTITIONS)
            expected[part] = max(expected.get(part, 0), event.position)
        deadline = time.monotonic() + 120
        while not all(
            container.read_store.has_applied("graphs", "graphs", pos, part) for part, pos in expected.items()
        ):
            assert time.monotonic() < deadline, "the read models did not catch up after the outage"
            time.sleep(0.2)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    live = table_rows(container.read_store, "graphs", "graph_id")
    assert len(live) == created  # every command accepted during the outage is there
    rebuild_projection(
        container.read_store,
        projection_named("graphs"),
        reader(container.event_logs),
        partitions=Partitioning(PARTITIONS, lambda key: partition_for(key, PARTITIONS)),
    )
    assert table_rows(container.read_store, "graphs", "graph_id") == live
