"""The relay: event store -> Kafka, at least once, in log order.

It follows each context's notification log (one ``LogFollower`` per
context, woken by the store's commits) and publishes every event as a
JSON envelope (``projections.envelope``) to ``<prefix>.<context>``, keyed by
aggregate id (a stop request by its run's id, so it reaches the run's owner),
with headers ``type``, ``position`` and a W3C ``traceparent`` (and ``unreadable``,
the reason, for a stored event that does not decode: consumers park it). An
event too large for one Kafka message (``MAX_MESSAGE_BYTES``: a node's queued
inputs may add up past it though each value keeps ``domain.json_codec``'s
limits) travels without its data, marked ``unreadable`` in the same way, so it
never stops the relay: consumers park it and ``agentgraph projections retry``
applies it from the event store.
The producer is idempotent with ``acks=all``; the relay records its
position per context only after Kafka acknowledged the whole batch, so a
crash re-publishes at most the unacknowledged tail (consumers skip events
at or below their stored positions).

Only one relay is active: it holds a PostgreSQL session advisory lock; a
second relay waits for it and takes over within a second or two of the
first one's death (its connection, and so its lock, goes with it). If Kafka
is down, commands are still accepted (they only touch the event store) and
the relay keeps retrying the same batch (with the retry policy's back-off)
until Kafka is back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import threading
import zlib
from functools import partial
from typing import Any

import psycopg
from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from adapters.event_log import EventLog
from adapters.kafka_topics import ensure_topics, partition_for, topic_for
from adapters.log_follower import LogFollower
from adapters.throughput import Throughput
from domain.json_codec import encode
from projections.dead_letters import UnreadableEvent
from projections.envelope import EventEnvelope

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = zlib.crc32(b"agentgraph:relay")
POSITIONS_TABLE = "agentgraph_relay_positions"
UNREADABLE_HEADER = "unreadable"
"""Header of a record whose stored event does not decode, or is too large to send: why (its value holds no data)."""
MAX_MESSAGE_BYTES = 1_000_000
"""Largest record value the relay sends: under the 1 MiB message limit of Kafka's producer and broker defaults."""


def traceparent(event: EventEnvelope) -> str:
    """A W3C traceparent for the event (stable per event until commands carry real traces)."""
    digest = hashlib.sha256(event.id.encode()).hexdigest()
    return f"00-{digest[:32]}-{digest[32:48]}-01"


LOCK_CHECK_SECONDS = 1.0
"""How often the active relay checks that its lock's session is still alive."""


class Relay:
    """Publishes the event stores' logs to Kafka (run it in its own thread)."""

    def __init__(
        self,
        dsn: str,
        logs: dict[str, EventLog],
        bootstrap: str,
        prefix: str,
        partitions: int,
        *,
        batch_size: int = 500,
    ) -> None:
        self.dsn = dsn
        self.logs = logs
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.partitions = partitions
        self.batch_size = batch_size
        self.published = Throughput()
        self.active = threading.Event()
        self.application_name = f"agentgraph-relay-{os.getpid()}"
        """How its connections show in ``pg_stat_activity`` (the lock holder is the active relay)."""

    def run(self, stop: threading.Event) -> None:
        """Wait to become the active relay, then publish until ``stop`` is set."""
        with psycopg.connect(self.dsn, autocommit=True, application_name=self.application_name) as lock_conn:
            while not stop.is_set():
                row = lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_KEY,)).fetchone()
                if row and row[0]:
                    break
                stop.wait(0.5)
            if stop.is_set():
                return
            self.active.set()
            log.info("relay is active")
            try:
                self._publish_until(stop, lock_conn)
            finally:
                self.active.clear()
                with contextlib.suppress(psycopg.Error):  # a lost session released the lock already
                    lock_conn.execute("SELECT pg_advisory_unlock(%s)", (RELAY_LOCK_KEY,))

    def _publish_until(self, stop: threading.Event, lock_conn: psycopg.Connection[Any]) -> None:
        ensure_topics(self.bootstrap, self.prefix, sorted(self.logs), self.partitions)
        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,  # broker-side dedup of the producer's own retries (explicit: fail if refused)
            linger_ms=5,
            retries=5,
            max_block_ms=10000,
            allow_auto_create_topics=False,
        )
        for context in sorted(self.logs):
            found = producer.partitions_for(topic_for(self.prefix, context)) or set()
            if len(found) != self.partitions:
                # partitions are computed from the configured count (the API names them in tokens)
                raise RuntimeError(
                    f"topic {topic_for(self.prefix, context)} has {len(found)} partitions, "
                    f"AGENTGRAPH_KAFKA_PARTITIONS says {self.partitions}"
                )
        try:
            # one connection for the position writes of every context's follower (the pool replaces it if it breaks)
            with ConnectionPool(
                self.dsn,
                min_size=1,
                max_size=1,
                kwargs={"autocommit": True, "application_name": self.application_name},
                configure=_configure_positions_connection,
                open=True,
                name="relay-positions",
            ) as pool:
                with pool.connection() as conn:
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} "
                        "(context TEXT PRIMARY KEY, position BIGINT NOT NULL)"
                    )
                    rows = conn.execute(f"SELECT context, position FROM {POSITIONS_TABLE}").fetchall()
                positions: dict[str, int] = {str(c): int(p) for c, p in rows}
                followers = [
                    LogFollower(
                        event_log,
                        partial(self._publish, producer, pool, context),
                        start=positions.get(context, 0),
                        batch_size=self.batch_size,
                        name=f"relay-{context}",
                    )
                    for context, event_log in sorted(self.logs.items())
                ]
                for follower in followers:
                    follower.start()
                try:
                    while not stop.wait(LOCK_CHECK_SECONDS):
                        # the lock lives as long as its session: once that is gone (a database restart),
                        # another relay may hold it, so stop publishing (the worker restarts and waits its turn)
                        lock_conn.execute("SELECT 1")
                finally:
                    for follower in followers:
                        follower.request_stop()
                    for follower in followers:
                        follower.join()
        finally:
            producer.close(timeout=5)

    def _publish(self, producer: Any, pool: ConnectionPool, context: str, batch: list[EventEnvelope]) -> None:
        """Publish one batch, then record the position (a follower retries the batch if either fails)."""
        self._send(producer, context, batch)
        with pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {POSITIONS_TABLE} (context, position) VALUES (%s, %s) "
                "ON CONFLICT (context) DO UPDATE SET position = excluded.position",
                (context, batch[-1].position),
            )
        self.published.add(len(batch))

    def _send(self, producer: Any, context: str, batch: list[EventEnvelope]) -> None:
        topic = topic_for(self.prefix, context)
        futures = []
        for event in batch:
            key = event.routing_key
            value = encode(event.as_json())
            if len(value) > MAX_MESSAGE_BYTES:
                event = _without_data(
                    event,
                    f"the event is {len(value):,} bytes, over the {MAX_MESSAGE_BYTES:,} bytes "
                    "of one Kafka message: apply it from the event store (agentgraph projections retry)",
                )
                value = encode(event.as_json())
            futures.append(
                producer.send(
                    topic,
                    key=key.encode(),
                    value=value,
                    partition=partition_for(key, self.partitions),
                    headers=[
                        ("type", event.type.encode()),
                        ("position", str(event.position).encode()),
                        ("traceparent", traceparent(event).encode()),
                        *([(UNREADABLE_HEADER, event.error.encode())] if isinstance(event, UnreadableEvent) else []),
                    ],
                )
            )
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)  # raises if Kafka did not acknowledge


def _without_data(event: EventEnvelope, why: str) -> UnreadableEvent:
    """``event`` marked unreadable with ``why``, its data left in the event store."""
    known = {field.name: getattr(event, field.name) for field in dataclasses.fields(EventEnvelope)}
    return UnreadableEvent(**{**known, "data": {}}, error=why)


def _configure_positions_connection(conn: psycopg.Connection[Any]) -> None:
    # if this process dies while its position write waits on a lock, PostgreSQL drops the
    # write within a second instead of applying it for a client that is gone
    conn.execute("SET client_connection_check_interval = 1000")


def relay_position(dsn: str) -> dict[str, int]:
    """The relay's recorded position per context (for status and metrics)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (POSITIONS_TABLE,)).fetchone()
        if not exists or not exists[0]:
            return {}
        return {str(c): int(p) for c, p in conn.execute(f"SELECT context, position FROM {POSITIONS_TABLE}")}
