"""The scheduler role: fires due schedules, one active scheduler at a time, each tick exactly once.

**Single active.** On PostgreSQL a scheduler becomes active by holding the
session advisory lock ``SCHEDULER_LOCK_KEY`` (``pg_try_advisory_lock`` on a
connection of its own, as the relay does); a standby retries every
``STANDBY_POLL_SECONDS`` and takes over within a second or so of the active
one's death (its connection, and so its lock, goes with it: a ``kill -9``
too). Embedded (SQLite: one process) the scheduler runs in the process, active
at once.

**What it knows.** The active scheduler follows the schedules log from its
start (``ScheduleBook``: each live schedule's owner, graph and next due
tick, in memory), and every ``TICK_SECONDS`` fires the schedules whose tick is
due (``application.schedules.ScheduleFiring``: the run first, with the
idempotency key ``run_id_for(schedule, tick)`` as its id, then the tick on the
schedule). A tick fired by a scheduler that died before recording it is fired
again by the next one, and finds its run: one run per tick. Ticks missed while
no scheduler ran follow each schedule's ``misfire`` policy (``domain.schedule``).

**Ending with their graph.** ``ScheduleProcessManager`` follows the logs in
``REACTIONS`` (the graphs log's ``Graph.Deleted``; the accounts log's
``LibraryAgent.Deleted``, for that user's schedules) and ends at once every
schedule of a graph that is gone; the firing checks the graph too before a run
is requested (belt and braces).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic

from adapters.event_log import EventLog
from adapters.log_follower import LogFollower
from application.schedules import GRAPH_DELETED, ScheduleFiring, SchedulesApplication
from domain.event_types import EventType, type_name
from domain.graph import Graph
from domain.library_agent import LibraryAgent
from domain.schedule import Schedule, next_run_time
from projections.envelope import EventEnvelope

log = logging.getLogger(__name__)

SCHEDULER_LOCK_KEY = zlib.crc32(b"agentgraph:scheduler")
"""The advisory lock the active scheduler holds."""

TICK_SECONDS = 1.0
"""How often the active scheduler looks for due ticks (a tick fires at most this late, plus the firing)."""

STANDBY_POLL_SECONDS = 0.5
"""How often a standby scheduler tries to become the active one."""

Clock = Callable[[], datetime]
"""What time it is (aware UTC): the wall clock, or a test's."""


def wall_clock() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class GraphGone:
    """The schedules of ``graph_id`` (only ``user_id``'s, when given) must end."""

    graph_id: str
    user_id: str | None = None


Reaction = Callable[[EventEnvelope], GraphGone]

REACTIONS: dict[str, dict[EventType, Reaction]] = {
    "graphs": {Graph.Deleted: lambda event: GraphGone(event.aggregate_id)},
    # removing a graph from one's library ends that user's schedules of it
    "accounts": {LibraryAgent.Deleted: lambda event: GraphGone(event.data["graph_id"], event.data["user_id"])},
}
"""context -> event type -> which schedules the event ends: the process manager's whole table."""


@dataclass
class _Entry:
    user_id: str
    graph_id: str
    cron: str
    timezone: str
    next_due: datetime


class ScheduleBook:
    """The live schedules and their next due tick, kept from the schedules log (thread-safe)."""

    def __init__(self) -> None:
        self._entries: dict[UUID, _Entry] = {}
        self._lock = threading.Lock()

    def handle(self, batch: list[EventEnvelope]) -> None:
        """Apply a batch of the schedules log."""
        with self._lock:
            for event in batch:
                try:
                    self._apply(event)
                except (KeyError, TypeError, ValueError):  # an event it cannot read: passed over, never a stop
                    log.exception("the scheduler cannot read schedules event %s; passed over", event.id)

    def _apply(self, event: EventEnvelope) -> None:
        """Apply one event (the lock is held)."""
        schedule_id = UUID(event.aggregate_id)
        if event.type == _CREATED:
            data = event.data
            self._entries[schedule_id] = _Entry(
                data["user_id"],
                data["graph_id"],
                data["cron"],
                data["timezone"],
                next_run_time(data["cron"], data["timezone"], data["created_at"]),
            )
        elif event.type in _TICKED and (entry := self._entries.get(schedule_id)) is not None:
            entry.next_due = max(entry.next_due, next_run_time(entry.cron, entry.timezone, event.data["tick"]))
        elif event.type == _DELETED:
            self._entries.pop(schedule_id, None)

    def due(self, now: datetime) -> list[UUID]:
        """The schedules with a tick due at ``now``."""
        with self._lock:
            return [schedule_id for schedule_id, entry in self._entries.items() if entry.next_due <= now]

    def dealt_with(self, schedule_id: UUID, tick: datetime) -> None:
        """``tick`` was dealt with (before the log says so): the next due tick follows it."""
        with self._lock:
            entry = self._entries.get(schedule_id)
            if entry is not None:
                entry.next_due = max(entry.next_due, next_run_time(entry.cron, entry.timezone, tick.isoformat()))

    def forget(self, schedule_id: UUID) -> None:
        """The schedule ended (before the log says so)."""
        with self._lock:
            self._entries.pop(schedule_id, None)

    def of_graph(self, gone: GraphGone) -> list[UUID]:
        """The live schedules ``gone`` ends."""
        with self._lock:
            return [
                schedule_id
                for schedule_id, entry in self._entries.items()
                if entry.graph_id == gone.graph_id and gone.user_id in (None, entry.user_id)
            ]


_CREATED = type_name(Schedule.Created)
_TICKED = frozenset(type_name(t) for t in (Schedule.Fired, Schedule.Missed, Schedule.FireFailed))
_DELETED = type_name(Schedule.Deleted)


class ScheduleProcessManager:
    """Ends the schedules of graphs that are gone, as the events in ``REACTIONS`` say (at least once, idempotent)."""

    def __init__(
        self,
        logs: Mapping[str, EventLog],
        schedules: SchedulesApplication,
        book: ScheduleBook,
        reactions: Mapping[str, Mapping[EventType, Reaction]] = REACTIONS,
    ) -> None:
        self._schedules = schedules
        self._book = book
        self._by_name = {
            context: {type_name(event_type): react for event_type, react in table.items()}
            for context, table in reactions.items()
        }
        self._followers = [
            LogFollower(
                logs[context],
                self._handle,
                topics=[get_topic(event_type) for event_type in table],
                name=f"schedules-ending-{context}",
            )
            for context, table in reactions.items()
            if context in logs
        ]

    def start(self) -> None:
        """Follow each log from its start (ending an ended schedule again changes nothing)."""
        for follower in self._followers:
            follower.start()

    def stop(self) -> None:
        """Stop following."""
        for follower in self._followers:
            follower.request_stop()
        for follower in self._followers:
            follower.join()

    def _handle(self, batch: list[EventEnvelope]) -> None:
        for event in batch:
            react = self._by_name.get(event.context, {}).get(event.type)
            if react is None:
                continue
            try:
                gone = react(event)
            except (KeyError, TypeError, ValueError):  # an event it cannot read: passed over, never a stop
                log.exception("cannot tell which schedules event %s ends; passed over", event.id)
                continue
            for schedule_id in self._book.of_graph(gone):
                if self._schedules.end_schedule(schedule_id, GRAPH_DELETED):
                    log.info("schedule %s ended: its graph %s is gone", schedule_id, gone.graph_id)
                self._book.forget(schedule_id)


class Scheduler:
    """Waits to be the active scheduler, then fires due ticks until stopped (run it in its own thread)."""

    def __init__(
        self,
        firing: ScheduleFiring,
        logs: Mapping[str, EventLog],
        *,
        dsn: str | None,
        clock: Clock = wall_clock,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self.firing = firing
        self.logs = logs
        self.dsn = dsn
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.active = threading.Event()
        self.application_name = f"agentgraph-scheduler-{os.getpid()}"
        """How its lock connection shows in ``pg_stat_activity`` (the lock holder is the active scheduler)."""

    def run(self, stop: threading.Event) -> None:
        """Become active (PostgreSQL: take the lock; embedded: at once), then fire until ``stop`` is set."""
        if self.dsn is None:
            self._fire_until(stop, check=lambda: None)
            return
        with psycopg.connect(self.dsn, autocommit=True, application_name=self.application_name) as lock_conn:
            while not stop.is_set():
                row = lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK_KEY,)).fetchone()
                if row and row[0]:
                    break
                stop.wait(STANDBY_POLL_SECONDS)
            if stop.is_set():
                return
            try:
                # the lock lives as long as its session: once that is gone another scheduler may hold it
                self._fire_until(stop, check=lambda: lock_conn.execute("SELECT 1"))
            finally:
                with contextlib.suppress(psycopg.Error):  # a lost session released the lock already
                    lock_conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEDULER_LOCK_KEY,))

    def _fire_until(self, stop: threading.Event, check: Callable[[], Any]) -> None:
        book = ScheduleBook()
        schedules_log = self.logs["schedules"]
        head = schedules_log.head()
        follower = LogFollower(schedules_log, book.handle, name="scheduler-book")
        ending = ScheduleProcessManager(self.logs, self.firing.schedules, book)
        follower.start()
        try:
            while follower.position < head and not stop.wait(0.01):
                pass  # every schedule known before the first tick (and before ending any)
            ending.start()
            self.active.set()
            log.info("scheduler is active")
            while not stop.is_set():
                check()
                self.fire_due(book)
                stop.wait(self.tick_seconds)
        finally:
            self.active.clear()
            ending.stop()
            follower.stop()

    def fire_due(self, book: ScheduleBook) -> None:
        """Fire every schedule the book says is due now (one failing schedule never stops the others)."""
        now = self.clock()
        for schedule_id in book.due(now):
            try:
                outcome = self.firing.fire_due(schedule_id, now)
            except Exception:
                log.exception("firing schedule %s failed; it is tried again on the next tick", schedule_id)
                continue
            if outcome is None:
                continue
            if outcome.what == "ended":
                book.forget(schedule_id)
            else:
                book.dealt_with(schedule_id, outcome.tick)
                log.info("schedule %s: tick %s %s", schedule_id, outcome.tick.isoformat(), outcome.what)
