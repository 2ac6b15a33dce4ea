"""Schedule queries: AutoGPT's ``GraphExecutionJobInfo`` from ``read.schedules``, always scoped to one user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from projections.store import ReadSource, iso, json_value

PROJECTION = "schedules"
"""The projection these queries read (``projections.schedules.projection``)."""

MAX_SCHEDULES_LISTED = 1000
"""A list answers at most this many schedules (the per-user limit is lower: ``api.routers.schedules``)."""


class GraphExecutionJobInfo(BaseModel):
    """A schedule as AutoGPT answers it (its APScheduler job); ``next_run_time`` is ISO 8601."""

    user_id: str
    graph_id: str
    graph_version: int
    cron: str
    input_data: dict[str, Any]
    input_credentials: dict[str, Any]
    id: str
    name: str
    next_run_time: str
    timezone: str


def job_info(
    *,
    schedule_id: str,
    user_id: str,
    graph_id: str,
    graph_version: int,
    name: str,
    cron: str,
    timezone: str,
    input_data: dict[str, Any],
    input_credentials: dict[str, Any],
    next_run_time: datetime | str,
) -> GraphExecutionJobInfo:
    """The one builder of ``GraphExecutionJobInfo``: queries use it on rows, the create route on what it wrote."""
    return GraphExecutionJobInfo(
        user_id=user_id,
        graph_id=graph_id,
        graph_version=graph_version,
        cron=cron,
        input_data=input_data,
        input_credentials=input_credentials,
        id=schedule_id,
        name=name,
        next_run_time=next_run_time.isoformat() if isinstance(next_run_time, datetime) else iso(next_run_time) or "",
        timezone=timezone,
    )


def _info(row: dict[str, Any]) -> GraphExecutionJobInfo:
    return job_info(
        schedule_id=str(row["schedule_id"]),
        user_id=str(row["user_id"]),
        graph_id=str(row["graph_id"]),
        graph_version=int(row["graph_version"]),
        name=str(row["name"]),
        cron=str(row["cron"]),
        timezone=str(row["timezone"]),
        input_data=dict(json_value(row["input_data"]) or {}),
        input_credentials=dict(json_value(row["input_credentials"]) or {}),
        next_run_time=iso(row["next_run_time"]) or "",
    )


class ScheduleQueries:
    """Reads of ``read.schedules``."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    def list_schedules(self, user_id: str, graph_id: str | None = None) -> list[GraphExecutionJobInfo]:
        """The user's schedules (of one graph when given), soonest first."""
        where = "user_id = :user_id" + (" AND graph_id = :graph_id" if graph_id is not None else "")
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('schedules')} WHERE {where} "
                f"ORDER BY next_run_time, schedule_id LIMIT {MAX_SCHEDULES_LISTED}",
                {"user_id": user_id, "graph_id": graph_id},
            )
        return [_info(row) for row in rows]

    def count(self, user_id: str) -> int:
        """How many live schedules the user has."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT COUNT(*) AS n FROM {tx.t('schedules')} WHERE user_id = :user_id", {"user_id": user_id}
            )
        return int(row["n"]) if row else 0
