"""When a schedule fires: standard 5-field cron in an IANA time zone, by wall-clock time.

A cron expression (``minute hour day-of-month month day-of-week``, as
AutoGPT's ``CronTrigger.from_crontab``; ``croniter`` parses it) names wall-clock
times in the schedule's zone (``zoneinfo``). Daylight-saving changes follow
the wall clock, so a daily schedule fires once a day whatever the day's
length:

- **spring forward** (a wall-clock time that does not exist that day, e.g.
  02:30 in America/New_York on 2026-03-08): the tick fires at the same
  distance past the change, i.e. 03:30 local (the gap's length later);
- **fall back** (a wall-clock time that happens twice, e.g. 01:30 in
  America/New_York on 2026-11-01): the tick fires at its first occurrence
  only.

Ticks are instants (aware UTC datetimes), strictly increasing: a tick
shifted by a gap onto a later tick of the same expression fires once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

MAX_CRON_LENGTH = 100
"""Longest cron expression accepted (five fields with lists and ranges fit easily)."""

MAX_TIMEZONE_LENGTH = 64
"""Longest time zone name accepted (the longest IANA name is about 32 characters)."""

_NOT_STANDARD = re.compile(r"\b[RrHh]\b")
"""croniter's extensions that tick differently on every parse (R) or need an id (H): refused, ticks must repeat."""

_SEARCH_STEPS = 1000
"""Wall-clock candidates examined for one tick before giving up (only reachable by a bug: each step moves on)."""


class ScheduleTimeError(ValueError):
    """A cron expression or time zone that cannot be used; the message says why, ``field`` which it is."""

    def __init__(self, message: str, field: str = "cron") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CronSchedule:
    """A checked cron expression in a zone: computes its ticks."""

    cron: str
    timezone: str

    @classmethod
    def parse(cls, cron: str, timezone: str) -> CronSchedule:
        """The schedule, or ``ScheduleTimeError`` naming what is wrong (field count, a field's range, the zone)."""
        expression = " ".join(cron.split())
        if len(cron) > MAX_CRON_LENGTH:
            raise ScheduleTimeError(f"Cron expression is longer than {MAX_CRON_LENGTH} characters")
        fields = expression.split(" ") if expression else []
        if len(fields) != 5:
            raise ScheduleTimeError(f"Wrong number of fields; got {len(fields)}, expected 5")
        if _NOT_STANDARD.search(expression):
            raise ScheduleTimeError(f"Invalid cron expression {expression!r}: R (random) and H (hashed) are not cron")
        try:
            croniter(expression)
        except (CroniterError, ValueError, KeyError) as exc:
            raise ScheduleTimeError(f"Invalid cron expression {expression!r}: {exc}") from None
        zone(timezone)
        schedule = cls(expression, timezone)
        try:
            schedule.next_after(datetime.now(UTC))
        except ScheduleTimeError:
            raise ScheduleTimeError(f"Cron expression {expression!r} never fires") from None
        return schedule

    def next_after(self, after: datetime) -> datetime:
        """The first tick strictly after ``after`` (aware), in UTC."""
        tz = zone(self.timezone)
        local = after.astimezone(tz).replace(tzinfo=None)
        try:
            candidates = croniter(self.cron, local)
            for _ in range(_SEARCH_STEPS):
                tick = _instant(candidates.get_next(datetime), tz)
                if tick > after:
                    return tick
        except CroniterError:
            pass
        raise ScheduleTimeError(f"Cron expression {self.cron!r} has no tick after {after.isoformat()}")

    def latest_at_or_before(self, now: datetime) -> datetime | None:
        """The last tick at or before ``now`` (aware), in UTC; None if the expression never fired."""
        tz = zone(self.timezone)
        local = (now + timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
        try:
            candidates = croniter(self.cron, local)
            for _ in range(_SEARCH_STEPS):
                tick = _instant(candidates.get_prev(datetime), tz)
                if tick <= now:
                    return tick
        except CroniterError:
            pass
        return None


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or ``ScheduleTimeError``."""
    if not name or len(name) > MAX_TIMEZONE_LENGTH or name.startswith("/") or ".." in name:
        raise ScheduleTimeError(f"Unknown time zone {name[:MAX_TIMEZONE_LENGTH]!r}", "timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleTimeError(f"Unknown time zone {name!r}", "timezone") from None


def _instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock time ``wall`` in ``tz``: its first occurrence; in a gap, the gap later.

    ``fold=0`` is the earlier of two occurrences, and for a time in a gap the
    offset before the change, which lands the gap's length past the change.
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
