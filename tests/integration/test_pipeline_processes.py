"""The distributed pipeline as real processes: relay + two projectors, PostgreSQL and Kafka.

20,000 commands across 500 graph aggregates, with the relay killed (kill -9)
mid-batch (Kafka acknowledged a batch whose position it had not recorded)
and restarted after 4,000 more commands, and one of the two projectors
killed (kill -9)
while PostgreSQL shows it inside a batch transaction; after quiescence the
read models equal a rebuild from the event store row for row, every
aggregate's row reflects its last event (order kept), and each graph's
``change_count`` equals its number of events (none applied twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from adapters.event_log import reader
from adapters.kafka_topics import ensure_topics, partition_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.composition import Container, build_container
from domain.agent_format import GraphPayload, content_from_payload
from domain.graph import Graph
from projections.registry import all_projections
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

PARTITIONS = 6
AGGREGATES = 500
COMMANDS = 20_000
TABLES = {"graphs": "graph_id", "graph_versions": "graph_id, version", "audit_log": "event_id"}


@pytest.fixture
def env(postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "AGENTGRAPH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "AGENTGRAPH_KAFKA_TOPIC_PREFIX": kafka_topic_prefix.rstrip("."),
        "AGENTGRAPH_KAFKA_PARTITIONS": str(PARTITIONS),
        "JWT_VERIFY_KEY": "pipeline-processes-" + "k" * 40,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def container(env: dict[str, str]) -> Iterator[Container]:
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("AGENTGRAPH_", "JWT_"))})
    built = build_container(settings)
    assert settings.kafka_bootstrap
    # what `agentgraph db init` does: tables (above) and topics, before any worker starts
    ensure_topics(settings.kafka_bootstrap, settings.kafka_topic_prefix, sorted(built.event_logs), PARTITIONS)
    yield built
    built.close()


class Role:
    """One `agentgraph serve --role ROLE` process with its log."""

    def __init__(self, role: str, env: dict[str, str], log: Path) -> None:
        self.role, self.env, self.log = role, env, log
        self.process = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--role", self.role],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> None:
        self.process = self._start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _run_commands(container: Container, graphs: list[Graph], start: int, stop: int) -> None:
    """Commands ``start``..``stop``: a new version of graph ``i % AGGREGATES`` each (one transaction each)."""
    content = content_from_payload(GraphPayload.model_validate(calculator("v")), fresh_ids=False)

    def command(i: int) -> None:
        graph = graphs[i % AGGREGATES]
        graph.add_version(content.model_copy(update={"name": f"command {i}"}))
        container.graphs.save(graph)

    # one worker per aggregate stripe: an aggregate's commands stay in order
    stripes = [[i for i in range(start, stop) if i % 8 == s] for s in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda stripe: [command(i) for i in stripe], stripes))


def _kill_mid_transaction(dsn: str, role: Role, timeout: float = 120) -> None:
    """kill -9 ``role`` while its read store holds a projection's lock, i.e. inside a batch transaction.

    The projector takes ``pg_advisory_xact_lock`` first thing in each batch
    transaction and keeps it until commit, so a granted advisory lock held
    by one of its connections means a transaction is open right now.
    """
    name = f"agentgraph-read-{role.process.pid}"
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            inside = conn.execute(
                "SELECT count(*) FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
                "WHERE a.application_name = %s AND l.locktype = 'advisory' AND l.granted",
                (name,),
            ).fetchone()
            if inside and inside[0]:
                role.kill()
                return
            assert role.process.poll() is None, "the projector exited by itself"
            assert time.monotonic() < deadline, "never saw the projector inside a transaction"
            time.sleep(0.001)


def _kill_mid_batch(dsn: str, role: Role, timeout: float = 120) -> int:
    """kill -9 the relay after Kafka acknowledged a batch and before its position is recorded.

    The test holds a lock on the relay's positions table, so the relay's
    next position write (which follows Kafka's acknowledgement) waits; once
    PostgreSQL shows it waiting, the relay is killed, its connection dies
    with it, and the lock is released. Returns the position it had recorded.
    """
    from adapters.kafka_relay import POSITIONS_TABLE, relay_position

    deadline = time.monotonic() + timeout
    while not relay_position(dsn).get("graphs"):  # publishing
        assert role.process.poll() is None and time.monotonic() < deadline, "the relay never published"
        time.sleep(0.05)
    with psycopg.connect(dsn) as blocker, psycopg.connect(dsn, autocommit=True) as watcher:
        blocker.execute(f"LOCK TABLE {POSITIONS_TABLE} IN EXCLUSIVE MODE")  # reads pass, writes wait
        recorded = relay_position(dsn)["graphs"]
        waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s"
        while not (pids := [pid for (pid,) in watcher.execute(waiting, (f"INSERT INTO {POSITIONS_TABLE}%",))]):
            assert role.process.poll() is None and time.monotonic() < deadline, "the relay never got to record"
            time.sleep(0.002)
        role.kill()
        gone = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
        while (watcher.execute(gone, (pids,)).fetchone() or (0,))[0]:
            assert time.monotonic() < deadline, "the dead relay's connection lingers"
            time.sleep(0.05)
        blocker.rollback()
    assert relay_position(dsn)["graphs"] == recorded, "the dead relay's position write went through"
    return recorded


def _load(container: Container, graphs: list[Graph], start: int, at_least: int, until: threading.Event) -> int:
    """Commands from ``start``, in chunks, until ``until`` is set and ``at_least`` is reached: returns the next one."""
    i = start
    while i < at_least or not until.is_set():
        _run_commands(container, graphs, i, i + 250)
        i += 250
    return i


class _TopicReader:
    """Every record of a topic, duplicates included, by their ``position`` header.

    The test broker's end offsets are not to be trusted, so "everything" means
    until the topic stays quiet for a few polls (and holds what is expected).
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaConsumer, TopicPartition

        self.positions: list[int] = []
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self._consumer.assign(partitions)
        self._consumer.seek_to_beginning(*partitions)

    def read(self, expected: set[int]) -> list[int]:
        deadline = time.monotonic() + 120
        quiet = 0
        while quiet < 3 or not expected <= set(self.positions):
            assert time.monotonic() < deadline, "the topic does not hold every event"
            polled = self._consumer.poll(timeout_ms=100, max_records=5000)
            quiet = 0 if polled else quiet + 1
            for records in polled.values():
                self.positions.extend(int(dict(r.headers)["position"]) for r in records)
        return self.positions

    def close(self) -> None:
        self._consumer.close()


def _wait_projected(container: Container, timeout: float) -> None:
    expected: dict[tuple[str, int], int] = {}
    for event in container.event_logs["graphs"].read(0, 10_000_000):
        key = ("graphs", partition_for(event.routing_key, PARTITIONS))
        expected[key] = max(expected.get(key, 0), event.position)
    deadline = time.monotonic() + timeout
    while True:
        behind = [
            (p.name, part)
            for p in all_projections()
            if "graphs" in p.contexts
            for (_, part), position in expected.items()
            if not container.read_store.has_applied(p.name, "graphs", position, part)
        ]
        if not behind:
            return
        assert time.monotonic() < deadline, f"still behind: {behind[:5]}"
        time.sleep(0.2)


def test_20000_commands_through_relay_and_two_projectors_survive_kills(
    env: dict[str, str], container: Container, tmp_path: Path, postgres_dsn: str
) -> None:
    # 500 aggregates (the first 500 commands)
    payload = GraphPayload.model_validate(calculator("g"))
    graphs = [Graph.create(f"user-{i % 7}", content_from_payload(payload, fresh_ids=True)) for i in range(AGGREGATES)]
    for graph in graphs:
        container.graphs.save(graph)

    topic = _TopicReader(env["AGENTGRAPH_KAFKA_BOOTSTRAP"], f"{env['AGENTGRAPH_KAFKA_TOPIC_PREFIX']}.graphs")
    relay = Role("relay", env, tmp_path / "relay.log")
    projectors = [Role("projector", env, tmp_path / f"projector-{n}.log") for n in range(2)]
    try:
        killed = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as loader:
            phase = loader.submit(_load, container, graphs, AGGREGATES, 8_000, killed)
            try:  # under load, mid-batch: its unrecorded tail is published again after the restart
                recorded = _kill_mid_batch(postgres_dsn, relay)
            finally:
                killed.set()
            reached = phase.result()
        assert reached + 4_000 < COMMANDS, f"the relay took until command {reached} to be caught mid-batch"
        _run_commands(container, graphs, reached, reached + 4_000)  # no relay runs: commands are still accepted
        relay.restart()
        load = threading.Thread(target=_run_commands, args=(container, graphs, reached + 4_000, COMMANDS))
        load.start()
        try:  # under load, mid-transaction: the other projector takes its partitions
            _kill_mid_transaction(postgres_dsn, projectors[0])
        finally:
            load.join()
        _wait_projected(container, timeout=240)
    finally:
        for role in [relay, *projectors]:
            role.stop()
    events = container.event_logs["graphs"].read(0, 10_000_000)
    stored = {event.position for event in events}
    try:
        published = topic.read(expected=stored)
    finally:
        topic.close()

    # nothing missing in Kafka; the relay's kill left duplicates there (it was mid-batch), absorbed below
    assert set(published) == stored
    twice = {position for position, count in Counter(published).items() if count > 1}
    assert twice and min(twice) > recorded  # the killed relay's acknowledged but unrecorded batch, sent again

    live = {table: table_rows(container.read_store, table, order) for table, order in TABLES.items()}
    assert len(live["graphs"]) == AGGREGATES
    assert len(live["graph_versions"]) == COMMANDS  # 500 first versions + 19,500 new ones
    last_position: dict[str, int] = {}
    events_of: Counter[str] = Counter()
    for event in events:
        last_position[event.aggregate_id] = event.position
        events_of[event.aggregate_id] += 1
    for row in live["graphs"]:  # each aggregate's row was last changed by its last event
        assert row["last_position"] == last_position[row["graph_id"]]
    # every event applied exactly once: a duplicate would have counted twice
    assert {row["graph_id"]: row["change_count"] for row in live["graphs"]} == dict(events_of)
    for projection in all_projections():
        if "graphs" in projection.contexts:
            rebuild_projection(
                container.read_store,
                projection,
                reader(container.event_logs),
                partitions=Partitioning(PARTITIONS, lambda key: partition_for(key, PARTITIONS)),
            )
    rebuilt = {table: table_rows(container.read_store, table, order) for table, order in TABLES.items()}
    assert rebuilt == live


def _active_relays(dsn: str, relays: list[Role]) -> list[Role]:
    """The relays holding the relay lock (PostgreSQL says which connection holds it)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        holders = {
            name
            for (name,) in conn.execute(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'agentgraph-relay-%'"
            )
        }
    return [relay for relay in relays if f"agentgraph-relay-{relay.process.pid}" in holders]


def _wait_relayed(dsn: str, container: Container, timeout: float) -> None:
    from adapters.kafka_relay import relay_position

    deadline = time.monotonic() + timeout
    while relay_position(dsn).get("graphs", 0) < container.event_logs["graphs"].head():
        assert time.monotonic() < deadline, "the relay did not publish everything"
        time.sleep(0.05)


def test_a_standby_relay_takes_over_within_seconds_when_the_active_one_dies(
    env: dict[str, str], container: Container, tmp_path: Path, postgres_dsn: str
) -> None:
    payload = GraphPayload.model_validate(calculator("g"))
    relays = [Role("relay", env, tmp_path / f"relay-{n}.log") for n in range(2)]
    topic = _TopicReader(env["AGENTGRAPH_KAFKA_BOOTSTRAP"], f"{env['AGENTGRAPH_KAFKA_TOPIC_PREFIX']}.graphs")
    try:
        for i in range(200):
            container.graphs.create_graph(f"user-{i % 3}", payload)
        _wait_relayed(postgres_dsn, container, timeout=60)
        active = _active_relays(postgres_dsn, relays)
        assert len(active) == 1  # one publishes, the other waits for the lock
        active[0].kill()
        died = time.monotonic()
        for i in range(200):
            container.graphs.create_graph(f"user-{i % 3}", payload)
        _wait_relayed(postgres_dsn, container, timeout=30)
        took = time.monotonic() - died
        assert _active_relays(postgres_dsn, relays) == [r for r in relays if r is not active[0]]
        assert took < 10, f"the standby relay took {took:.1f} s to take over"
        stored = {event.position for event in container.event_logs["graphs"].read(0, 10_000)}
        assert set(topic.read(expected=stored)) == stored  # nothing missing across the hand-over
    finally:
        topic.close()
        for relay in relays:
            relay.stop()
