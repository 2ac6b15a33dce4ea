"""The Schedule aggregate: a graph version run on a cron expression with stored inputs.

One schedule belongs to one user and runs one pinned version of one of
their graphs with the inputs and credentials references given when it was
made (secret inputs sealed, ``application.schedules``). It remembers the last
tick it dealt with (fired, missed or failed), so whichever scheduler is
active resumes after it, after a restart or a failover.

Missed ticks (the scheduler was down): the schedule's ``misfire`` policy says
what happens once a scheduler is back:

- ``coalesce`` (the default, AutoGPT's: APScheduler's ``coalesce=True`` and
  no grace time): every missed tick collapses into one late run, for the
  latest missed tick;
- ``skip``: missed ticks are recorded as missed without a run; only a tick
  at most ``MISFIRE_GRACE_SECONDS`` late still fires.

A fire's run id is ``uuid5(schedule id, tick)`` (``run_id_for``), so a fire
retried after a crash finds the run it started and starts no second one.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.cron import CronSchedule

MISFIRE_GRACE_SECONDS = 60.0
"""How late a tick may be and still fire under ``skip`` (a tick loop's delay, not a downtime)."""


class Misfire(enum.StrEnum):
    """What a schedule does with ticks missed while no scheduler ran."""

    COALESCE = "coalesce"
    SKIP = "skip"


class ScheduleDeletedError(Exception):
    """The schedule was deleted: it fires no more."""


class Schedule(Aggregate):
    """A user's cron trigger of one graph version."""

    class Created(Aggregate.Created):
        """A user scheduled a graph version with these inputs (secret ones sealed) and credentials references."""

        user_id: str
        graph_id: str
        graph_version: int
        name: str
        cron: str
        timezone: str
        misfire: str
        input_data: dict[str, Any]
        input_credentials: dict[str, Any]
        created_at: str

    @event(Created)
    def __init__(
        self,
        user_id: str,
        graph_id: str,
        graph_version: int,
        name: str,
        cron: str,
        timezone: str,
        misfire: str,
        input_data: dict[str, Any],
        input_credentials: dict[str, Any],
        created_at: str,
    ) -> None:
        self.user_id = user_id
        self.graph_id = graph_id
        self.graph_version = graph_version
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.misfire = str(Misfire(misfire))  # plain text: a snapshot stores it as such
        self.input_data = input_data
        self.input_credentials = input_credentials
        self.created_at = created_at
        self.last_tick: str | None = None
        self.is_deleted = False

    @classmethod
    def create(
        cls,
        *,
        schedule_id: uuid.UUID,
        user_id: str,
        graph_id: str,
        graph_version: int,
        name: str,
        when: CronSchedule,
        misfire: Misfire,
        input_data: dict[str, Any],
        input_credentials: dict[str, Any],
        created_at: datetime,
    ) -> Schedule:
        """A new schedule; its first tick is the first after ``created_at``."""
        return cls._create(
            cls.Created,
            id=schedule_id,
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            name=name,
            cron=when.cron,
            timezone=when.timezone,
            misfire=str(misfire),
            input_data=input_data,
            input_credentials=input_credentials,
            created_at=created_at.astimezone(UTC).isoformat(),
        )

    # -- when -------------------------------------------------------------

    @property
    def when(self) -> CronSchedule:
        """The cron expression in its zone."""
        return CronSchedule(self.cron, self.timezone)

    def next_run_time(self) -> datetime:
        """The next tick to deal with (in the past while a scheduler is late)."""
        return next_run_time(self.cron, self.timezone, self.last_tick or self.created_at)

    def due(self, now: datetime) -> tuple[datetime, bool] | None:
        """The tick to deal with at ``now`` and whether it runs (False: recorded as missed); None if none is due.

        Several missed ticks are one: the latest (module docstring).
        """
        if self.is_deleted or self.next_run_time() > now:
            return None
        tick = self.when.latest_at_or_before(now) or self.next_run_time()
        if self.misfire == Misfire.SKIP and now - tick > timedelta(seconds=MISFIRE_GRACE_SECONDS):
            return tick, False
        return tick, True

    # -- commands ---------------------------------------------------------

    def record_fired(self, tick: datetime, execution_id: uuid.UUID, fired_at: datetime) -> None:
        """The tick started run ``execution_id``."""
        self._ensure_not_deleted()
        self._fired(tick=_iso(tick), execution_id=str(execution_id), fired_at=_iso(fired_at))

    class Fired(Aggregate.Event):
        """A tick started a run (its id is ``run_id_for(schedule, tick)``)."""

        tick: str
        execution_id: str
        fired_at: str

    @event(Fired)
    def _fired(self, tick: str, execution_id: str, fired_at: str) -> None:
        self.last_tick = tick

    def record_missed(self, tick: datetime) -> None:
        """Ticks up to ``tick`` were missed and are not run (``skip``)."""
        self._ensure_not_deleted()
        self._missed(tick=_iso(tick))

    class Missed(Aggregate.Event):
        """Ticks up to ``tick`` passed while no scheduler ran; under ``skip`` they start no run."""

        tick: str

    @event(Missed)
    def _missed(self, tick: str) -> None:
        self.last_tick = tick

    def record_failed(self, tick: datetime, error: str) -> None:
        """The tick could not start a run (e.g. its inputs no longer fit the graph); the schedule stays."""
        self._ensure_not_deleted()
        self._fire_failed(tick=_iso(tick), error=error[:2000])

    class FireFailed(Aggregate.Event):
        """A tick's run was refused (AutoGPT logs it and keeps the schedule); the error names no secret."""

        tick: str
        error: str

    @event(FireFailed)
    def _fire_failed(self, tick: str, error: str) -> None:
        self.last_tick = tick

    def delete(self, reason: str) -> None:
        """End the schedule (by its owner, or because its graph is gone); a second delete changes nothing."""
        if not self.is_deleted:
            self._deleted(reason=reason)

    class Deleted(Aggregate.Event):
        """The schedule ended: ``user`` (its owner deleted it) or ``graph_deleted``."""

        reason: str

    @event(Deleted)
    def _deleted(self, reason: str) -> None:
        self.is_deleted = True

    def _ensure_not_deleted(self) -> None:
        if self.is_deleted:
            raise ScheduleDeletedError(f"Schedule {self.id} was deleted")


def next_run_time(cron: str, timezone: str, anchor: str) -> datetime:
    """The first tick after ``anchor`` (ISO): what the read model and the scheduler call the next run time."""
    return CronSchedule(cron, timezone).next_after(datetime.fromisoformat(anchor))


def run_id_for(schedule_id: uuid.UUID, tick: datetime) -> uuid.UUID:
    """The run a tick starts: the same id every time the tick is fired (the fire's idempotency key)."""
    return uuid.uuid5(schedule_id, _iso(tick))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
