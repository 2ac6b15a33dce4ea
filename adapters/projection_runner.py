"""Feeds projections from the event stores' notification logs, in process.

The embedded platform (and, until the Kafka relay runs, a single-process
deployment on PostgreSQL) keeps its read models current with this runner:
one task per context tails the context's log and applies each batch to every
projection of that context, each in its own read-model transaction with its
position. In-process saves wake it at once; other processes' writes are
picked up by polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from adapters.pipeline_metrics import Throughput
from adapters.read_store import ReadStore
from projections.base import Projection
from projections.envelope import EventEnvelope, envelope_from_stored

log = logging.getLogger(__name__)


@dataclass
class EventLog:
    """One bounded context's notification log, read as envelopes."""

    context: str
    app: Application[UUID]

    def read(self, after: int, limit: int) -> list[EventEnvelope]:
        """Up to ``limit`` events after position ``after``, in log order."""
        recorder = self.app.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            return self._read_postgres(recorder, after, limit)
        notifications = recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [
            envelope_from_stored(self.context, n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in notifications
        ]

    def _read_postgres(self, recorder: PostgresApplicationRecorder, after: int, limit: int) -> list[EventEnvelope]:
        """The same rows as ``select_notifications``, as plain tuples (rebuilds read millions of them)."""
        query = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(query, (after, limit), prepare=True)
            rows = cursor.fetchall()
        return [
            envelope_from_stored(self.context, n, oid, version, topic, state) for n, oid, version, topic, state in rows
        ]

    def head(self) -> int:
        """The position of the newest event (0 for an empty log)."""
        return int(self.app.recorder.max_notification_id() or 0)

    def at(self, position: int) -> EventEnvelope | None:
        """The event at ``position``, if any."""
        found = self.read(position - 1, 1) if position > 0 else []
        return found[0] if found and found[0].position == position else None


def reader(logs: dict[str, EventLog]) -> Callable[[str, int, int], list[EventEnvelope]]:
    """``read(context, after, limit)`` over several logs (what a rebuild replays)."""
    return lambda context, after, limit: logs[context].read(after, limit)


class ProjectionRunner:
    """Tails every context's log and keeps the projections current."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        logs: dict[str, EventLog],
        *,
        poll_interval: float = 0.05,
        batch_size: int = 1000,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        self.logs = logs
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = {context: asyncio.Event() for context in logs}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.applied: dict[str, int] = dict.fromkeys(logs, 0)
        # for the metrics endpoint: events read from the logs, and applied (once per projection they feed)
        self.received = Throughput()
        self.projected = Throughput()
        self._progress = asyncio.Condition()

    async def start(self) -> None:
        """Start tailing (call inside the loop that should run the projections)."""
        self._loop = asyncio.get_running_loop()
        for context, event_log in self.logs.items():
            listener = getattr(event_log.app, "add_listener", None)
            if callable(listener):
                listener(lambda c=context: self._wake_from_any_thread(c))
            self._tasks.append(asyncio.create_task(self._tail(context), name=f"projections-{context}"))

    async def close(self) -> None:
        """Stop tailing."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def catch_up(self) -> int:
        """Apply everything up to the logs' heads now, in this thread; returns events read."""
        total = 0
        for context in self.logs:
            position = self._start_position(context)
            while batch := self.logs[context].read(position, self._batch_size):
                self._apply(context, batch)
                position = batch[-1].position
                total += len(batch)
        return total

    async def wait_for(self, context: str, position: int, timeout: float) -> bool:
        """Wait until ``position`` of ``context`` is applied everywhere; False on timeout."""
        async with self._progress:
            try:
                async with asyncio.timeout(timeout):
                    await self._progress.wait_for(lambda: self.applied.get(context, 0) >= position)
            except TimeoutError:
                return False
        return True

    def _wake_from_any_thread(self, context: str) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake[context].set)

    def _start_position(self, context: str) -> int:
        interested = [p for p in self.projections if context in p.contexts]
        return min((self.store.positions(p.name).get(context, 0) for p in interested), default=0)

    def _apply(self, context: str, batch: list[EventEnvelope]) -> None:
        self.received.add(len(batch))
        applied = 0
        for projection in self.projections:
            if context in projection.contexts:
                applied += self.store.apply(projection, context, batch)
        self.projected.add(applied)

    async def _tail(self, context: str) -> None:
        position = await asyncio.to_thread(self._start_position, context)
        await self._publish(context, position)
        while True:
            try:
                batch = await asyncio.to_thread(self.logs[context].read, position, self._batch_size)
                if batch:
                    await asyncio.to_thread(self._apply, context, batch)
                    position = batch[-1].position
                    await self._publish(context, position)
            except Exception:
                log.exception("projecting the %s log failed; retrying", context)
                await asyncio.sleep(1.0)
                continue
            if len(batch) < self._batch_size:
                self._wake[context].clear()
                try:
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake[context].wait()
                except TimeoutError:
                    pass

    async def _publish(self, context: str, position: int) -> None:
        async with self._progress:
            self.applied[context] = position
            self._progress.notify_all()
