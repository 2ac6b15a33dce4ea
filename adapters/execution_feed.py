"""Feeds the executor from the executions notification log (no Kafka).

Used embedded (SQLite) and, until the Kafka issue lands, with PostgreSQL:
it tails the executions log for ``Queued`` runs and stop requests and hands
them to the executor. In-process saves wake it at once;
writes from other processes are picked up by polling.

On start it first recovers: every run queued but not finished (by
scanning the log's queued and end events, without loading aggregates) is
submitted again, so a restarted executor resumes them.
"""

from __future__ import annotations

import asyncio
import logging
from uuid import UUID

from eventsourcing.utils import get_topic

from application.executions import ExecutionsApplication
from application.executor import Executor
from domain.execution import ExecutionStopRequest, GraphExecution

log = logging.getLogger(__name__)

QUEUED = get_topic(GraphExecution.Queued)
STOP = get_topic(ExecutionStopRequest.Requested)
ENDED = [
    get_topic(GraphExecution.Completed),
    get_topic(GraphExecution.Failed),
    get_topic(GraphExecution.Terminated),
]


class ExecutionLogFeed:
    """Tails the executions log and drives an ``Executor``."""

    def __init__(self, app: ExecutionsApplication, executor: Executor, poll_interval: float = 0.05) -> None:
        self._app = app
        self._executor = executor
        self._poll_interval = poll_interval
        self._position = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Recover unfinished runs, then tail the log in the background."""
        self._loop = asyncio.get_running_loop()
        self._app.add_listener(self._wake_from_any_thread)
        open_runs, self._position = await asyncio.to_thread(self._scan_open_runs)
        if open_runs:
            log.info("resuming %d unfinished execution(s)", len(open_runs))
        for execution_id in open_runs:
            self._executor.submit(execution_id)
        self._task = asyncio.create_task(self._tail(), name="execution-log-feed")

    async def close(self) -> None:
        """Stop tailing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _wake_from_any_thread(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def _scan_open_runs(self) -> tuple[list[UUID], int]:
        return open_runs(self._app)

    async def _tail(self) -> None:
        while True:
            try:
                batch = await asyncio.to_thread(
                    self._app.recorder.select_notifications,
                    self._position,
                    1000,
                    None,
                    [QUEUED, STOP],
                    inclusive_of_start=False,
                )
            except Exception:
                log.exception("reading the executions log failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for notification in batch:
                if notification.topic == QUEUED:
                    self._executor.submit(_uuid(notification.originator_id))
                else:
                    request = self._app.mapper.to_domain_event(notification)
                    assert isinstance(request, ExecutionStopRequest.Requested)
                    self._executor.stop_requested(UUID(request.execution_id), request.requested_by)
                self._position = notification.id
            if len(batch) < 1000:
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass


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
