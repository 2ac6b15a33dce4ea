"""Cron ticks in a zone across daylight-saving changes, and a schedule's due ticks (domain.cron, domain.schedule)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.cron import CronSchedule, ScheduleTimeError
from domain.schedule import Misfire, Schedule, run_id_for

NEW_YORK = "America/New_York"


def ticks(schedule: CronSchedule, start: datetime, end: datetime) -> list[datetime]:
    found, moment = [], start
    while (moment := schedule.next_after(moment)) < end:
        found.append(moment)
    return found


def test_a_daily_0230_fires_once_on_the_spring_forward_day_at_0330_local() -> None:
    daily = CronSchedule.parse("30 2 * * *", NEW_YORK)
    day = ticks(daily, datetime(2026, 3, 8, 5, 0, tzinfo=UTC), datetime(2026, 3, 9, 5, 0, tzinfo=UTC))
    # 02:30 does not exist that day (02:00 EST -> 03:00 EDT): the tick comes the gap later, 03:30 EDT
    assert day == [datetime(2026, 3, 8, 7, 30, tzinfo=UTC)]
    around = ticks(daily, datetime(2026, 3, 6, 5, 0, tzinfo=UTC), datetime(2026, 3, 11, 4, 0, tzinfo=UTC))
    assert [t.astimezone(ZoneInfo(NEW_YORK)).strftime("%d %H:%M") for t in around] == [
        "06 02:30",
        "07 02:30",
        "08 03:30",
        "09 02:30",
        "10 02:30",
    ]


def test_a_daily_0230_fires_once_on_the_fall_back_day() -> None:
    daily = CronSchedule.parse("30 2 * * *", NEW_YORK)
    day = ticks(daily, datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC))
    assert day == [datetime(2026, 11, 1, 7, 30, tzinfo=UTC)]  # 02:30 EST


def test_a_daily_0130_fires_once_on_the_fall_back_day_at_its_first_occurrence() -> None:
    daily = CronSchedule.parse("30 1 * * *", NEW_YORK)
    day = ticks(daily, datetime(2026, 11, 1, 4, 0, tzinfo=UTC), datetime(2026, 11, 2, 4, 0, tzinfo=UTC))
    assert day == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]  # 01:30 EDT; 01:30 EST an hour later is not a tick


def test_ticks_are_strictly_increasing_through_a_gap() -> None:
    half_hourly = CronSchedule.parse("*/30 * * * *", NEW_YORK)
    found = ticks(half_hourly, datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 1, tzinfo=UTC))
    assert found == sorted(set(found))
    assert [t.strftime("%H:%M") for t in found] == ["06:30", "07:00", "07:30", "08:00"]


@pytest.mark.parametrize(
    ("cron", "timezone", "reason"),
    [
        ("* * * *", "UTC", "Wrong number of fields; got 4, expected 5"),
        ("* * * * * *", "UTC", "Wrong number of fields; got 6, expected 5"),
        ("", "UTC", "Wrong number of fields; got 0, expected 5"),
        ("61 * * * *", "UTC", "Invalid cron expression '61 * * * *'"),
        ("0 0 31 2 *", "UTC", "never fires"),
        ("R R * * *", "UTC", "R (random) and H (hashed) are not cron"),
        ("H/5 * * * *", "UTC", "are not cron"),
        ("0 9 * * 1", "Mars/Olympus_Mons", "Unknown time zone 'Mars/Olympus_Mons'"),
        ("0 9 * * 1", "../../etc/passwd", "Unknown time zone"),
        ("0 9 * * 1", "", "Unknown time zone"),
        ("0 " * 60, "UTC", "longer than 100 characters"),
    ],
)
def test_bad_cron_or_zone_says_why(cron: str, timezone: str, reason: str) -> None:
    with pytest.raises(ScheduleTimeError, match=re.escape(reason)):
        CronSchedule.parse(cron, timezone)


def schedule(misfire: Misfire, created: datetime) -> Schedule:
    return Schedule.create(
        schedule_id=uuid.uuid4(),
        user_id="alice",
        graph_id=str(uuid.uuid4()),
        graph_version=1,
        name="hourly",
        when=CronSchedule.parse("0 * * * *", "UTC"),
        misfire=misfire,
        input_data={},
        input_credentials={},
        created_at=created,
    )


def test_missed_ticks_coalesce_into_one_late_run_for_the_latest() -> None:
    created = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    hourly = schedule(Misfire.COALESCE, created)
    assert hourly.next_run_time() == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert hourly.due(datetime(2026, 1, 1, 0, 59, tzinfo=UTC)) is None
    late = datetime(2026, 1, 1, 5, 20, tzinfo=UTC)  # ticks 01:00 .. 05:00 missed
    assert hourly.due(late) == (datetime(2026, 1, 1, 5, 0, tzinfo=UTC), True)
    hourly.record_fired(datetime(2026, 1, 1, 5, 0, tzinfo=UTC), uuid.uuid4(), late)
    assert hourly.due(late) is None and hourly.next_run_time() == datetime(2026, 1, 1, 6, 0, tzinfo=UTC)


def test_skip_records_missed_ticks_without_a_run_but_fires_one_just_due() -> None:
    hourly = schedule(Misfire.SKIP, datetime(2026, 1, 1, 0, 10, tzinfo=UTC))
    assert hourly.due(datetime(2026, 1, 1, 5, 20, tzinfo=UTC)) == (datetime(2026, 1, 1, 5, 0, tzinfo=UTC), False)
    assert hourly.due(datetime(2026, 1, 1, 5, 0, 30, tzinfo=UTC)) == (datetime(2026, 1, 1, 5, 0, tzinfo=UTC), True)


def test_a_ticks_run_id_is_the_same_every_time_and_differs_per_tick() -> None:
    schedule_id = uuid.uuid4()
    tick = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    assert run_id_for(schedule_id, tick) == run_id_for(schedule_id, tick.astimezone(ZoneInfo(NEW_YORK)))
    assert run_id_for(schedule_id, tick) != run_id_for(schedule_id, tick + timedelta(hours=1))
    assert run_id_for(schedule_id, tick) != run_id_for(uuid.uuid4(), tick)
