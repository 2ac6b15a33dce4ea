"""Feeds the executor from the executions notification log (no Kafka).

Used embedded (SQLite) and with PostgreSQL without Kafka: a ``LogFollower``
reads the executions log's ``Queued`` runs and stop requests and hands them
to the executor, woken by every commit (in this process, and on PostgreSQL
in any process).

An event the feed cannot act on (a stop request without its fields, a
stored event that does not decode) is logged once and passed over: the feed
never stops at it. A queued run is handed on by its id alone, so one whose
events do not load is failed by the executor (``load_or_fail``).

On start it first recovers: every run queued but not finished (by
scanning the log's queued and end events, without loading aggregates) is
submitted again, so a restarted executor resumes them.

With Kafka, the Kafka feed runs one ``stops_only`` beside it: stop requests
are then read straight from the store as well, so a stop never waits behind
a flood of other events in the relay and the topic (a tight loop writes
thousands a second). A stop delivered both ways is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from adapters.event_log import EventLog
from adapters.log_follower import LogFollower
from application.executions import ExecutionsApplication
from application.executor import Executor
from domain.execution import RUN_ENDINGS, ExecutionStopRequest, GraphExecution
from projections.envelope import EventEnvelope, type_from_topic

log = logging.getLogger(__name__)

QUEUED = get_topic(GraphExecution.Queued)
STOP = get_topic(ExecutionStopRequest.Requested)
ENDED = [get_topic(ending) for ending in RUN_ENDINGS]
_QUEUED_TYPE = type_from_topic(QUEUED)


class ExecutionLogFeed:
    """Follows the executions log and drives an ``Executor``."""

    def __init__(self, app: ExecutionsApplication, executor: Executor, *, stops_only: bool = False) -> None:
        """``stops_only``: deliver only the stop requests recorded from now on (no recovery, no new runs)."""
        self._app = app
        self._executor = executor
        self._stops_only = stops_only
        self._follower: LogFollower | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Recover unfinished runs, then follow the log in the background."""
        self._loop = asyncio.get_running_loop()
        event_log = EventLog("executions", self._app)
        runs: list[UUID] = []
        if self._stops_only:
            position = await asyncio.to_thread(event_log.head)
        else:
            runs, position = await asyncio.to_thread(open_runs, self._app)
        if runs:
            log.info("resuming %d unfinished execution(s)", len(runs))
        for execution_id in runs:
            self._executor.submit(execution_id)
        self._follower = LogFollower(
            event_log,
            self._deliver,
            start=position,
            topics=[STOP] if self._stops_only else [QUEUED, STOP],
            name="execution-stop-feed" if self._stops_only else "execution-log-feed",
        )
        self._follower.start()

    async def close(self) -> None:
        """Stop following."""
        if self._follower is not None:
            await asyncio.to_thread(self._follower.stop)

    def _deliver(self, batch: list[EventEnvelope]) -> None:
        """In the follower's thread: hand each run and stop request to the executor's loop, in log order."""
        for event in batch:
            try:
                if event.type == _QUEUED_TYPE:
                    self._call(self._executor.submit, UUID(event.aggregate_id))
                else:
                    execution_id, requested_by = event.data["execution_id"], event.data["requested_by"]
                    self._call(self._executor.stop_requested, UUID(str(execution_id)), str(requested_by))
            except (KeyError, ValueError, TypeError) as error:
                log.error("execution feed passed over %s at position %d: %r", event.type, event.position, error)

    def _call(self, method: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(method, *args)


def open_runs(app: ExecutionsApplication) -> tuple[list[UUID], int]:
    """Runs queued but not ended (from the log's queued and end events only), and the log position read to."""
    opened: dict[UUID, None] = {}
    position = 0
    while True:
        batch = app.recorder.select_notifications(
            start=position, limit=5000, topics=[QUEUED, *ENDED], inclusive_of_start=False
        )
        if not batch:
            return list(opened), position
        for notification in batch:
            execution_id = _uuid(notification.originator_id)
            if notification.topic == QUEUED:
                opened[execution_id] = None
            else:
                opened.pop(execution_id, None)
        position = batch[-1].id


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)
