"""Schedules: run a graph on a cron expression (AutoGPT's routes and ``GraphExecutionJobInfo``).

``POST /api/graphs/{graph_id}/schedules`` ``{graph_version?, name, cron, inputs,
credentials, timezone?}`` checks the graph and inputs as a run would (404 for a
graph the caller cannot run, 400 ``graph_invalid`` with ``node_errors`` for a
missing or bad input), and a bad cron expression or time zone is 422
(AutoGPT's request-invalid body; its error has type ``schedule_invalid``, ``loc``
``["body", "cron"]`` or ``["body", "timezone"]`` and the reason as ``msg``, e.g.
``Wrong number of fields; got 4, expected 5``). The answer's ``next_run_time`` is in the schedule's zone (as
AutoGPT's); lists answer it in UTC. ``timezone`` defaults to UTC (no user
timezone is stored here). Our one addition: ``misfire`` (``coalesce``, the
default, or ``skip``: ``domain.schedule``). Another user's schedule and an
unknown one both answer 404 ``Schedule #<id> not found`` (AutoGPT: 403 for
another user's). A user has at most ``MAX_SCHEDULES_PER_USER`` schedules
(409 ``schedule_limit_reached``; counted on the read model: a burst of parallel creates may pass it by a few).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import GraphsConsistent, answer_with_token, consistent, token_for
from api.errors import responses
from api.ids import GraphId
from application.schedules import MAX_NAME_LENGTH, ScheduleWritten
from domain.cron import MAX_CRON_LENGTH, MAX_TIMEZONE_LENGTH, CronSchedule, zone
from domain.json_codec import check_json_limits
from domain.not_found import ScheduleNotFoundError
from domain.numbers import VersionNumber
from domain.schedule import Misfire
from projections.schedules.queries import PROJECTION as SCHEDULES_PROJECTION
from projections.schedules.queries import GraphExecutionJobInfo, job_info

SchedulesConsistent = Depends(consistent(SCHEDULES_PROJECTION, frozenset({"schedules"})))

commands = APIRouter(tags=["schedules"], responses=responses(400, 401, 404, 409, 413, 422, 503))
queries = APIRouter(tags=["schedules"], responses=responses(400, 401, 404, 422, 503))

MAX_SCHEDULES_PER_USER = 100
"""Live schedules one user may have (AutoGPT sets none; every input has a limit here)."""

ScheduleId = Annotated[str, Path(max_length=64, description="Schedule id (UUID)")]


class CreateScheduleRequest(BaseModel):
    """Body of ``POST /api/graphs/{graph_id}/schedules``; the whole body keeps ``domain.json_codec``'s limits."""

    model_config = ConfigDict(extra="ignore")

    graph_version: VersionNumber | None = Field(default=None, description="Default: the graph's active version")
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    cron: str = Field(max_length=MAX_CRON_LENGTH, description="Standard 5-field cron, e.g. 0 9 * * 1")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph inputs by input name")
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="Credentials references ({id, provider, type, title}) by field name"
    )
    timezone: str | None = Field(default=None, max_length=MAX_TIMEZONE_LENGTH, description="IANA zone; default UTC")
    misfire: Misfire = Field(
        default=Misfire.COALESCE, description="Missed ticks: one late run (coalesce) or none (skip)"
    )


class ScheduleDeleted(BaseModel):
    """AutoGPT's answer to a delete."""

    id: str


class ScheduleLimitError(HTTPException):
    """409: the user has as many schedules as one may have."""

    code = "schedule_limit_reached"

    def __init__(self) -> None:
        super().__init__(
            status_code=409,
            detail=f"A user may have at most {MAX_SCHEDULES_PER_USER} schedules: delete one first",
        )


@commands.post("/api/graphs/{graph_id}/schedules", summary="Schedule runs of a graph version")
async def create_schedule(
    graph_id: GraphId,
    body: Annotated[CreateScheduleRequest, BeforeValidator(check_json_limits)],
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> GraphExecutionJobInfo:
    """A new schedule (AutoGPT's GraphExecutionJobInfo, ``next_run_time`` in its zone).

    Nothing is recorded when the answer is not 200.
    """
    written = await asyncio.to_thread(_create, container, user.user_id, str(graph_id), body)
    answer_with_token(response, token_for(container, "schedules", written))
    info = _info(written)
    next_run = written.next_run_time.astimezone(zone(written.timezone))
    return info.model_copy(update={"next_run_time": next_run.isoformat()})


def _create(container: Container, user_id: str, graph_id: str, body: CreateScheduleRequest) -> ScheduleWritten:
    when = CronSchedule.parse(body.cron, body.timezone or "UTC")
    if container.schedule_queries.count(user_id) >= MAX_SCHEDULES_PER_USER:
        raise ScheduleLimitError()
    return container.schedules.create_schedule(
        user_id=user_id,
        graph_id=graph_id,
        graph_version=body.graph_version,
        name=body.name,
        when=when,
        misfire=body.misfire,
        inputs=body.inputs,
        credentials=body.credentials,
        graphs=container.graphs,
        lookup=container.blocks.get,
        secrets=container.schedule_secrets,
    )


@commands.delete("/api/schedules/{schedule_id}", summary="Delete a schedule")
def delete_schedule(
    schedule_id: ScheduleId, user: CurrentUser, container: ContainerDep, response: Response
) -> ScheduleDeleted:
    """``{"id": ...}``; 404 ``Schedule #<id> not found`` for an unknown one or someone else's."""
    try:
        parsed = UUID(schedule_id)
    except ValueError:
        raise ScheduleNotFoundError(f"Schedule #{schedule_id} not found") from None
    written = container.schedules.delete_schedule(user.user_id, parsed)
    answer_with_token(response, token_for(container, "schedules", written))
    return ScheduleDeleted(id=str(written.aggregate_id))


@queries.get("/api/schedules", summary="The caller's schedules", dependencies=[SchedulesConsistent])
def list_schedules(user: CurrentUser, container: ContainerDep) -> list[GraphExecutionJobInfo]:
    """Every schedule of the caller, soonest next run first (``next_run_time`` in UTC)."""
    return container.schedule_queries.list_schedules(user.user_id)


@queries.get(
    "/api/graphs/{graph_id}/schedules",
    summary="The caller's schedules of one graph",
    dependencies=[GraphsConsistent, SchedulesConsistent],
)
def list_graph_schedules(graph_id: GraphId, user: CurrentUser, container: ContainerDep) -> list[GraphExecutionJobInfo]:
    """The caller's schedules of this graph (none for someone else's graph)."""
    return container.schedule_queries.list_schedules(user.user_id, str(graph_id))


def _info(written: ScheduleWritten) -> GraphExecutionJobInfo:
    return job_info(
        schedule_id=str(written.aggregate_id),
        user_id=written.user_id,
        graph_id=written.graph_id,
        graph_version=written.graph_version,
        name=written.name,
        cron=written.cron,
        timezone=written.timezone,
        input_data=written.input_data,
        input_credentials=written.input_credentials,
        next_run_time=written.next_run_time,
    )
