"""Schedule events -> ``read.schedules``; a row's ``next_run_time`` comes from its events alone (rebuildable)."""

from __future__ import annotations

from collections.abc import Callable

from domain.event_types import EventType
from domain.schedule import Schedule, next_run_time
from domain.secret_inputs import mask_sealed
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.schedules.tables import SCHEDULES
from projections.store import ReadModelTx

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"INSERT INTO {tx.t('schedules')} (schedule_id, user_id, graph_id, graph_version, name, cron, timezone, "
        "misfire, input_data, input_credentials, created_at, last_tick, last_execution_id, next_run_time, "
        "last_position) VALUES (:schedule_id, :user_id, :graph_id, :graph_version, :name, :cron, :timezone, "
        ":misfire, :input_data, :input_credentials, :created_at, NULL, NULL, :next_run_time, :position) "
        "ON CONFLICT (schedule_id) DO NOTHING",
        {
            "schedule_id": event.aggregate_id,
            "user_id": data["user_id"],
            "graph_id": data["graph_id"],
            "graph_version": data["graph_version"],
            "name": data["name"],
            "cron": data["cron"],
            "timezone": data["timezone"],
            "misfire": data["misfire"],
            "input_data": tx.json(mask_sealed(data.get("input_data") or {})),
            "input_credentials": tx.json(data.get("input_credentials") or {}),
            "created_at": data["created_at"],
            "next_run_time": next_run_time(data["cron"], data["timezone"], data["created_at"]).isoformat(),
            "position": event.position,
        },
    )


def _ticked(tx: ReadModelTx, event: EventEnvelope) -> None:
    """A tick was dealt with (fired, missed or failed): the next run time moves past it."""
    row = tx.fetchone(
        f"SELECT cron, timezone, last_position FROM {tx.t('schedules')} WHERE schedule_id = :schedule_id",
        {"schedule_id": event.aggregate_id},
    )
    if row is None or int(row["last_position"]) >= event.position:
        return  # deleted since, or a redelivery
    tick = event.data["tick"]
    tx.execute(
        f"UPDATE {tx.t('schedules')} SET last_tick = :tick, next_run_time = :next_run_time, "
        "last_execution_id = COALESCE(:execution_id, last_execution_id), last_position = :position "
        "WHERE schedule_id = :schedule_id",
        {
            "tick": tick,
            "next_run_time": next_run_time(str(row["cron"]), str(row["timezone"]), tick).isoformat(),
            "execution_id": event.data.get("execution_id"),
            "position": event.position,
            "schedule_id": event.aggregate_id,
        },
    )


def _deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    tx.execute(f"DELETE FROM {tx.t('schedules')} WHERE schedule_id = :schedule_id", {"schedule_id": event.aggregate_id})


_HANDLERS = EventHandlers[Handler](
    {
        Schedule.Created: _created,
        Schedule.Fired: _ticked,
        Schedule.Missed: _ticked,
        Schedule.FireFailed: _ticked,
        Schedule.Deleted: _deleted,
    }
)


class SchedulesProjection(Projection):
    """Schedule aggregates -> ``schedules``."""

    name = "schedules"
    contexts = frozenset({"schedules"})
    tables = (SCHEDULES,)
    handles = _HANDLERS.types
    ignores: frozenset[EventType] = frozenset()

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
