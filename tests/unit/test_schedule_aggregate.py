"""The Schedule aggregate in its application: snapshots keep a long-lived schedule quick to load."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from application.schedules import SNAPSHOT_INTERVAL, SchedulesApplication
from domain.cron import CronSchedule
from domain.schedule import Misfire, Schedule


def test_a_schedule_with_many_ticks_loads_from_a_snapshot_with_its_state() -> None:
    app = SchedulesApplication()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    schedule = Schedule.create(
        schedule_id=uuid.uuid4(),
        user_id="alice",
        graph_id=str(uuid.uuid4()),
        graph_version=1,
        name="every minute",
        when=CronSchedule.parse("* * * * *", "Europe/Paris"),
        misfire=Misfire.SKIP,
        input_data={"x": 1},
        input_credentials={},
        created_at=created,
    )
    app.save(schedule)
    ticks = [created + timedelta(minutes=n) for n in range(1, 2 * SNAPSHOT_INTERVAL + 11)]
    for tick in ticks:
        loaded = app.load(schedule.id)
        assert loaded is not None and loaded.due(tick) == (tick, True)
        loaded.record_fired(tick, uuid.uuid4(), tick)
        app.save(loaded)
    assert app.snapshots is not None and list(app.snapshots.get(schedule.id, desc=True, limit=1))
    again = app.load(schedule.id)
    assert again is not None
    assert again.last_tick == ticks[-1].isoformat() and again.misfire == Misfire.SKIP
    assert again.next_run_time() == ticks[-1] + timedelta(minutes=1)
    assert again.due(ticks[-1] + timedelta(minutes=5)) == (ticks[-1] + timedelta(minutes=5), True)
