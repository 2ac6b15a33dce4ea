"""The projector role: a Kafka consumer group that keeps the read models current.

Each poll is applied in ONE read-model transaction together with, per
(projection, topic partition), the last applied log position and Kafka
offset; events at or below the stored position are skipped, which absorbs
the relay's re-publications and Kafka's redeliveries. Offsets are committed
to Kafka only after that transaction committed, and on partition assignment
the consumer seeks to the offsets stored with the read models (they are the
truth; Kafka's committed offsets are only a hint). Several projector
processes share the partitions as one consumer group.

A poll that fails is applied again in place, with the retry policy's
back-off; an event that keeps failing is parked by the read store
(``projections.dead_letters``), and a record that does not decode (or that
the relay marked unreadable) is parked as an ``UnreadableEvent``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from adapters.kafka_relay import UNREADABLE_HEADER
from adapters.kafka_topics import context_of, topic_for
from adapters.read_store import ReadStore
from adapters.throughput import Throughput
from application.retry import retrying
from domain.json_codec import decode
from projections.base import Projection
from projections.dead_letters import UnreadableEvent
from projections.envelope import EventEnvelope

log = logging.getLogger(__name__)


class _SeekToStoredOffsets(ConsumerRebalanceListener):
    def __init__(self, projector: KafkaProjector) -> None:
        self._projector = projector

    def on_partitions_revoked(self, revoked: Any) -> None:
        pass

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._projector.seek_to_stored(assigned)


class KafkaProjector:
    """Consumes the context topics and applies them to the projections (run it in its own thread)."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        bootstrap: str,
        prefix: str,
        contexts: Sequence[str],
        *,
        group_id: str | None = None,
        max_records: int = 2000,
        consumer_config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        self.prefix = prefix
        self.contexts = list(contexts)
        self.group_id = group_id or f"{prefix}.projector"
        self.max_records = max_records
        self.applied = Throughput()
        self.received = Throughput()
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": self.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            # topics are made by `agentgraph db init` / the relay with the configured partition count
            "allow_auto_create_topics": False,
            **(consumer_config or {}),
        }
        self._consumer: Any = None
        self.committed: Callable[[list[EventEnvelope]], None] | None = None
        """Called with each poll's events once the read models committed them (the notifications' push)."""

    def seek_to_stored(self, assigned: Any) -> None:
        """Resume each newly assigned partition from the offset stored with the read models."""
        for tp in assigned:
            offset = self.store.kafka_offset(self.projections, context_of(self.prefix, tp.topic), tp.partition)
            if offset is not None:
                self._consumer.seek(tp, offset)
            else:
                self._consumer.seek_to_beginning(tp)

    def run(self, stop: threading.Event) -> None:
        """Poll, apply, commit — until ``stop`` is set."""
        topics = [topic_for(self.prefix, c) for c in self.contexts]
        self._consumer = KafkaConsumer(**self._config)
        self._consumer.subscribe(topics, listener=_SeekToStoredOffsets(self))
        apply = retrying("applying a poll to the read models", log, stop)
        try:
            while not stop.is_set():
                polled = self._consumer.poll(timeout_ms=200, max_records=self.max_records)
                if not polled:
                    continue
                groups: list[tuple[str, int, list[EventEnvelope], int]] = []
                offsets: dict[TopicPartition, OffsetAndMetadata] = {}
                for tp, records in polled.items():
                    context = context_of(self.prefix, tp.topic)
                    by_position: dict[int, EventEnvelope] = {}
                    for record in records:
                        event = EventEnvelope.from_json(decode(record.value))
                        event = _decoded(context, record)
                        by_position[event.position] = event
                    batch = [by_position[p] for p in sorted(by_position)]
                    groups.append((context, tp.partition, batch, records[-1].offset))
                    offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, None, -1)
                self.received.add(sum(len(batch) for _, _, batch, _ in groups))
                self.applied.add(apply(self.store.apply_polled, self.projections, groups))
                self._consumer.commit(offsets)  # after the read models committed
                if self.committed is not None:
                    self.committed([event for _, _, batch, _ in groups for event in batch])
        finally:
            self._consumer.close()


def _decoded(context: str, record: Any) -> EventEnvelope:
    """The record's envelope, or what its key and headers tell of it when it does not decode."""
    headers = {key: value.decode(errors="replace") for key, value in record.headers or []}
    try:
        if UNREADABLE_HEADER in headers:
            raise ValueError(headers[UNREADABLE_HEADER])
        return EventEnvelope.from_json(decode(record.value))
    except Exception as error:  # decoding is pure: whatever it raises is this record's own fault
        aggregate = record.key.decode(errors="replace") if record.key else ""
        return UnreadableEvent(
            id=f"{aggregate}:?",
            type=headers.get("type", "?"),
            context=context,
            aggregate_id=aggregate,
            aggregate_version=0,
            position=int(headers.get("position", "0")),
            timestamp="",
            error=str(error) if UNREADABLE_HEADER in headers else f"the record does not decode: {error!r}"[:2000],
        )
