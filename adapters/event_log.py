"""One bounded context's notification log, read as event envelopes.

What follows or replays an event store in log order goes through ``EventLog``:
the log followers (projection runner, execution feed, relay), rebuilds and
the pipeline metrics. (An executor's start-up scan for open runs and a
command's look at one run's first and last events read their own store.)
On PostgreSQL it reads the rows as plain tuples (a rebuild reads millions
of them); elsewhere it uses the recorder's own ``select_notifications``.
A stored event that does not decode is read as an ``UnreadableEvent`` (what
is known of it, and why), so it is parked, never a wall the log stops at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from adapters.commit_signal import CommitSignal
from domain.event_types import type_from_topic
from projections.dead_letters import UnreadableEvent
from projections.envelope import EventEnvelope, envelope_from_stored, event_id


@dataclass
class EventLog:
    """One bounded context's notification log, read as envelopes."""

    context: str
    app: Application[UUID]

    def read(self, after: int, limit: int, topics: Sequence[str] = ()) -> list[EventEnvelope]:
        """Up to ``limit`` events after position ``after``, in log order (only those of ``topics`` if given)."""
        recorder = self.app.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            return self._read_postgres(recorder, after, limit, topics)
        notifications = recorder.select_notifications(start=after, limit=limit, topics=topics, inclusive_of_start=False)
        return [
            _envelope(self.context, n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in notifications
        ]

    def _read_postgres(
        self, recorder: PostgresApplicationRecorder, after: int, limit: int, topics: Sequence[str]
    ) -> list[EventEnvelope]:
        """The same rows as ``select_notifications``, as plain tuples."""
        query = _select_after(recorder, bool(topics))
        params = (after, list(topics), limit) if topics else (after, limit)
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(query, params, prepare=True)
            rows = cursor.fetchall()
        return [_envelope(self.context, n, oid, version, topic, state) for n, oid, version, topic, state in rows]

    def history(self, aggregate_id: str) -> list[EventEnvelope]:
        """Every event of one aggregate, oldest first, with its log position (what a live update replays)."""
        recorder = self.app.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            query = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
                "WHERE originator_id = %s ORDER BY originator_version"
            ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
            with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(query, (UUID(aggregate_id),))
                rows = cursor.fetchall()
        else:
            statement = (
                "SELECT rowid, originator_id, originator_version, topic, state "
                f"FROM {recorder.events_table_name} WHERE originator_id = ? "  # type: ignore[attr-defined]
                "ORDER BY originator_version"
            )
            with recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
                cursor.execute(statement, (UUID(aggregate_id).hex,))  # SQLite stores ids as hex
                rows = [(n, UUID(oid), version, topic, state) for n, oid, version, topic, state in cursor.fetchall()]
        return [_envelope(self.context, n, oid, version, topic, state) for n, oid, version, topic, state in rows]

    def head(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def at(self, position: int) -> EventEnvelope | None:
        """The event at ``position``, if any."""
        found = self.read(position - 1, 1) if position > 0 else []
        return found[0] if found and found[0].position == position else None

    @property
    def commits(self) -> CommitSignal | None:
        """What wakes a follower of this log when the store commits (None: the store tells nobody, poll)."""
        signal = getattr(self.app.recorder, "commits", None)
        return signal if isinstance(signal, CommitSignal) else None


def _envelope(
    context: str, position: int, aggregate_id: UUID | str, version: int, topic: str, state: bytes
) -> EventEnvelope:
    try:
        return envelope_from_stored(context, position, aggregate_id, version, topic, state)
    except Exception as error:  # decoding is pure: whatever it raises is this event's own fault
        aggregate = str(aggregate_id)
        return UnreadableEvent(
            id=event_id(aggregate, version),
            type=type_from_topic(topic),
            context=context,
            aggregate_id=aggregate,
            aggregate_version=version,
            position=position,
            timestamp="",
            error=f"the stored event does not decode: {type(error).__name__}: {error}"[:2000],
        )


def _select_after(recorder: PostgresApplicationRecorder, by_topic: bool) -> Composed:
    return SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE notification_id > %s {topics}ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
        topics=SQL("AND topic = ANY(%s) " if by_topic else ""),
    )


def reader(logs: dict[str, EventLog]) -> Callable[[str, int, int], list[EventEnvelope]]:
    """``read(context, after, limit)`` over several logs (what a rebuild replays)."""
    return lambda context, after, limit: logs[context].read(after, limit)
