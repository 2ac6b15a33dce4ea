"""Read-model throughput: rebuild rate, Kafka catch-up, and freshness.

Run on demand (not part of the default test run)::

    pytest -o addopts="" tests/benchmarks/test_projection_throughput.py -s

Figures printed side by side, each next to a baseline measured in the same run:

- rebuild: events/s of ``agentgraph projections rebuild`` against the raw rate
  of reading the same notifications (target: at least ``REBUILD_OF_RAW`` = 0.3 of it);
- catch-up: a projector consuming the events through Kafka into PostgreSQL
  (one transaction per poll) against the eventsourcing library's own
  ``ProjectionRunner`` following the executions log of the same run, one
  transaction per event (our executions projection and the tracking record
  together, see ``tests.benchmarks.es_baseline``; timed over its first
  3,000 events) — target at least 15x;
- freshness: command accepted -> answered by the query side (the read-model
  query behind ``GET /api/graphs/{id}``, without the HTTP hop), p50/p99, at
  200 commands/s, embedded and through Kafka.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from adapters.event_log import reader
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay
from adapters.kafka_topics import ensure_topics, partition_for
from adapters.projection_runner import ProjectionRunner
from adapters.read_store import rebuild_projection
from adapters.settings import Settings
from api.bootstrap import ExecutorService
from api.composition import Container, build_container
from application.executor import ExecutorConfig
from application.graphs import GraphNotFoundError
from domain.agent_format import GraphPayload
from domain.execution import GraphExecution
from projections.envelope import EventEnvelope
from projections.registry import all_projections
from tests.benchmarks.es_baseline import envelope_from_domain_event, one_transaction_per_event
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.benchmark
COMPLETED = [get_topic(GraphExecution.Completed)]
PARTITIONS = 6
BASELINE_EVENTS = 3000
"""How many executions events the one-transaction-per-event baseline is timed over (it is slow)."""
REBUILD_OF_RAW = 0.3
"""The rebuild rate's least share of the raw read rate: replaying also decodes, projects and writes every event."""
LINES: list[str] = []


def _say(line: str) -> None:
    LINES.append(line)
    print(line)


def _pg_settings(
    postgres_server: str, tmp_path: Path, name: str, kafka: str | None = None, prefix: str = ""
) -> Settings:
    import psycopg

    from tests.fixtures.services import dsn_with_dbname

    dbname = f"agentgraph_bench_{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {dbname}")
    values: dict[str, Any] = {
        "AGENTGRAPH_DATABASE_URL": dsn_with_dbname(postgres_server, dbname),
        "JWT_VERIFY_KEY": "bench-" + "k" * 40,
        "AGENTGRAPH_DATA_DIR": tmp_path / name,
    }
    if kafka:
        values.update(
            AGENTGRAPH_KAFKA_BOOTSTRAP=kafka,
            AGENTGRAPH_KAFKA_TOPIC_PREFIX=prefix,
            AGENTGRAPH_KAFKA_PARTITIONS=PARTITIONS,
        )
    return Settings(**values)


async def _history(container: Container, runs: int = 100, nodes: int = 20) -> int:
    """Runs of a chain graph, executed for real: returns how many events the logs hold."""
    from tests.benchmarks.test_executor_throughput import _chain

    graph = container.graphs.create_graph("bench", _chain(nodes), fresh_ids=False).graph
    content = container.graphs.graph_for_run("bench", graph.id, 1)
    for i in range(runs):
        container.executions.request_execution(
            user_id="bench",
            graph_id=graph.id,
            graph_version=1,
            graph=content,
            lookup=container.blocks.get,
            inputs={"x": i},
        )
    # the runs are executed from the event log (no relay runs yet): a container without Kafka does that
    local = build_container(container.settings.model_copy(update={"kafka_bootstrap": None}))
    service = ExecutorService(local, ExecutorConfig(max_running_per_user=runs))
    await service.start()
    recorder = container.executions.recorder
    deadline = time.monotonic() + 300
    while len(await asyncio.to_thread(recorder.select_notifications, 0, runs + 1, None, COMPLETED)) < runs:
        assert time.monotonic() < deadline, "the runs did not complete"
        await asyncio.sleep(0.05)
    await service.stop()
    local.close()
    return sum(log.head() for log in container.event_logs.values())


async def test_rebuild_rate_against_raw_reads(postgres_server: str, tmp_path: Path) -> None:
    container = build_container(_pg_settings(postgres_server, tmp_path, "rebuild"))
    try:
        events = await _history(container, runs=300)
        logs = container.event_logs
        started = time.perf_counter()
        for log in logs.values():
            position = 0
            while batch := log.read(position, 2000):
                position = batch[-1].position
        raw = events / (time.perf_counter() - started)
        rebuilt = 0
        started = time.perf_counter()
        for projection in all_projections():
            rebuilt += sum(logs[c].head() for c in projection.contexts)
            rebuild_projection(container.read_store, projection, reader(logs))
        rate = rebuilt / (time.perf_counter() - started)
        _say(
            f"rebuild: {rebuilt} events at {rate:,.0f} events/s; raw notification reads {raw:,.0f} events/s "
            f"({rate / raw:.2f} of raw)"
        )
        assert rate / raw >= REBUILD_OF_RAW
    finally:
        container.close()


async def test_kafka_catch_up_against_one_transaction_per_event(
    postgres_server: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> None:
    prefix = kafka_topic_prefix.rstrip(".")
    container = build_container(_pg_settings(postgres_server, tmp_path, "catchup", kafka_bootstrap, prefix))
    settings = container.settings
    assert settings.database_url
    try:
        events = await _history(container, runs=300)
        ensure_topics(kafka_bootstrap, prefix, sorted(container.event_logs), PARTITIONS)
        relay = Relay(settings.database_url, container.event_logs, kafka_bootstrap, prefix, PARTITIONS, batch_size=2000)
        stop = threading.Event()
        relaying = threading.Thread(target=relay.run, args=(stop,), daemon=True)
        relaying.start()
        deadline = time.monotonic() + 120
        while relay.published.total < events:
            assert relaying.is_alive() and time.monotonic() < deadline, "the relay did not publish everything"
            await asyncio.sleep(0.05)
        stop.set()
        relaying.join(10)

        # the same events through the library's ProjectionRunner, one transaction each (into a fresh database)
        log = container.event_logs["executions"]
        sample = log.read(0, BASELINE_EVENTS)
        _assert_runner_sees_the_same_envelopes(container, sample[:500])
        base = _pg_settings(postgres_server, tmp_path, "catchup_base")
        assert base.database_url
        counted, base_seconds = one_transaction_per_event(
            settings.database_url, base.database_url, [event.position for event in sample]
        )
        slow = counted / base_seconds

        projector = KafkaProjector(
            container.read_store,
            all_projections(),
            kafka_bootstrap,
            prefix,
            sorted(container.event_logs),
            consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
        )
        stop = threading.Event()
        consuming = threading.Thread(target=projector.run, args=(stop,), daemon=True)
        consuming.start()
        expected = _expected(container)
        deadline = time.monotonic() + 120
        while projector.received.total == 0:  # the consumer group join is not part of the catch-up
            assert consuming.is_alive() and time.monotonic() < deadline, "the projector never started"
            await asyncio.sleep(0.001)
        started = time.perf_counter()
        while not _applied(container, expected):
            assert consuming.is_alive() and time.monotonic() < deadline, "the projector did not catch up"
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        stop.set()
        consuming.join(15)
        fast = events / seconds
        _say(
            f"catch-up through Kafka: {events} events in {seconds:.2f} s = {fast:,.0f} events/s "
            f"(largest poll {projector.received.largest_batch}); eventsourcing ProjectionRunner (one transaction "
            f"per event): {slow:,.0f} events/s = {fast / slow:.1f}x (runner timed over {counted} executions events)"
        )
        assert fast / slow >= 15
    finally:
        container.close()


def _assert_runner_sees_the_same_envelopes(container: Container, sample: list[EventEnvelope]) -> None:
    """The baseline's projection is handed, for each event, the envelope our own feeds read from the log."""
    app = container.executions
    notifications = app.recorder.select_notifications(start=sample[0].position, limit=len(sample))
    # what the library's ApplicationSubscription yields: the mapper's domain event, tracked at the notification id
    seen = [envelope_from_domain_event(app.mapper.to_domain_event(n), n.id) for n in notifications]
    assert seen == sample


def _expected(container: Container) -> dict[tuple[str, int], int]:
    expected: dict[tuple[str, int], int] = {}
    for context, log in container.event_logs.items():
        for event in log.read(0, 10_000_000):
            key = (context, partition_for(event.routing_key, PARTITIONS))
            expected[key] = max(expected.get(key, 0), event.position)
    return expected


def _applied(container: Container, expected: dict[tuple[str, int], int]) -> bool:
    return all(
        container.read_store.has_applied(p.name, c, pos, part)
        for p in all_projections()
        for (c, part), pos in expected.items()
        if c in p.contexts
    )


async def _freshness(container: Container, visible: Callable[[str], bool], count: int = 400) -> list[float]:
    """Latencies (ms) from a command returning to its write being visible in the read model, at 200 commands/s."""
    latencies: list[float] = []
    payload = GraphPayload.model_validate(calculator("fresh"))
    interval = 1 / 200
    next_at = time.perf_counter()
    for _ in range(count):
        next_at += interval
        view = await asyncio.to_thread(container.graphs.create_graph, "fresh", payload)
        accepted = time.perf_counter()
        graph_id = view.graph.id
        give_up = time.perf_counter() + 30
        while not visible(graph_id):
            assert time.perf_counter() < give_up, "a write never became visible"
            await asyncio.sleep(0.002)  # a client polling; faster polling only steals the GIL from the pipeline
        latencies.append((time.perf_counter() - accepted) * 1000)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return latencies


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]


async def test_freshness_embedded(tmp_path: Path) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "fresh"))
    runner = ProjectionRunner(container.read_store, all_projections(), container.event_logs)
    await runner.start()
    try:
        latencies = await _freshness(container, lambda graph_id: _queryable(container, graph_id))
    finally:
        await runner.close()
        container.close()
    p50, p99 = _percentiles(latencies)
    _say(f"freshness embedded at 200 commands/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert p99 <= 50


async def test_freshness_through_kafka(
    postgres_server: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path
) -> None:
    prefix = kafka_topic_prefix.rstrip(".")
    container = build_container(_pg_settings(postgres_server, tmp_path, "fresh_kafka", kafka_bootstrap, prefix))
    settings = container.settings
    assert settings.database_url
    ensure_topics(kafka_bootstrap, prefix, sorted(container.event_logs), PARTITIONS)
    relay = Relay(settings.database_url, container.event_logs, kafka_bootstrap, prefix, PARTITIONS)
    projector = KafkaProjector(
        container.read_store,
        all_projections(),
        kafka_bootstrap,
        prefix,
        sorted(container.event_logs),
        consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "fetch_max_wait_ms": 5},
    )
    stop = threading.Event()
    workers = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in (relay, projector)]
    for worker in workers:
        worker.start()
    try:
        # warm up: the consumer group has joined once the first write shows
        await _freshness(container, lambda graph_id: _queryable(container, graph_id), count=5)
        latencies = await _freshness(container, lambda graph_id: _queryable(container, graph_id))
    finally:
        stop.set()
        for worker in workers:
            worker.join(15)
        container.close()
    p50, p99 = _percentiles(latencies)
    _say(f"freshness through Kafka at 200 commands/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    assert p99 <= 100


def _queryable(container: Container, graph_id: str) -> bool:
    """True once ``GET /api/graphs/{id}`` would answer: the same query on the read models, without HTTP."""
    try:
        container.graph_views.get_graph("fresh", graph_id)
    except GraphNotFoundError:
        return False
    return True


def test_zz_summary() -> None:
    """Every figure of this run together."""
    print("\n" + "\n".join(LINES))
