"""Executions: run a graph, stop a run, list and read runs.

Routes follow AutoGPT: ``POST /api/graphs/{id}/execute/{version}``,
``POST /api/graphs/{id}/executions/{exec_id}/stop``, ``GET /api/executions``,
``GET /api/graphs/{id}/executions`` and ``GET /api/graphs/{id}/executions/{exec_id}``.
Lists are paginated, newest first, as ``{executions, pagination}``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import STALE_HEADER, TOKEN_HEADER, GraphsConsistent, RunsConsistent, token_for
from api.json_response import SafeJSONResponse, finite_json
from application.executions import ExecutionNotFoundError
from application.graphs import GraphNotFoundError

commands = APIRouter(tags=["executions"])
queries = APIRouter(tags=["executions"])

STOP_WAIT_SECONDS = 5.0


class ExecuteGraphRequest(BaseModel):
    """Body of ``POST /api/graphs/{id}/execute/{version}``."""

    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph inputs by input name")
    credentials_inputs: dict[str, Any] = Field(
        default_factory=dict, description="Credentials references ({id, provider, type, title}) by field name"
    )


class ExecutionCreated(BaseModel):
    """A queued run."""

    id: str
    graph_id: str
    graph_version: int
    status: str
    consistency_token: str | None = Field(default=None, description="Send back on queries to read this write")


def _uuid(value: str, what: str = "Execution") -> UUID:
    try:
        return UUID(value)
    except ValueError:
        if what == "Graph":
            raise GraphNotFoundError(f"Graph {value} not found") from None
        raise ExecutionNotFoundError(f"Execution {value} not found") from None


@commands.post("/api/graphs/{graph_id}/execute/{graph_version}", summary="Run a graph version")
def execute_graph(
    graph_id: str,
    graph_version: int,
    body: ExecuteGraphRequest,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> ExecutionCreated:
    """Queue a run of one version of one of the caller's graphs.

    400 with ``node_errors`` for missing or invalid inputs; 404 for someone
    else's, a deleted or an unknown graph or version.
    """
    content = container.graphs.graph_for_run(user.user_id, graph_id, graph_version, new_run=True)
    execution = container.executions.request_execution(
        user_id=user.user_id,
        graph_id=graph_id,
        graph_version=graph_version,
        graph=content,
        lookup=container.blocks.get,
        inputs=body.inputs,
        credentials_inputs=body.credentials_inputs,
    )
    token = token_for(container, "executions", str(execution.id))
    if token:
        response.headers[TOKEN_HEADER] = token
    return ExecutionCreated(
        id=str(execution.id),
        graph_id=execution.graph_id,
        graph_version=execution.graph_version,
        status=execution.status,
        consistency_token=token,
    )


@commands.post("/api/graphs/{graph_id}/executions/{execution_id}/stop", summary="Stop a run")
async def stop_execution(
    graph_id: str, execution_id: str, user: CurrentUser, container: ContainerDep
) -> SafeJSONResponse:
    """Stop the run (and its sub-agent runs); answers once it has ended, or after 5 s with its state."""
    eid = _uuid(execution_id)
    peek = await asyncio.to_thread(container.executions.peek, user.user_id, eid)
    if peek.graph_id != graph_id:
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")

    def stop() -> str | None:
        container.executions.forget_position()
        container.executions.request_stop(user.user_id, eid)
        return token_for(container, "executions", str(eid))  # None when the run had ended: nothing written

    token = await asyncio.to_thread(stop)
    await asyncio.to_thread(container.executions.wait_until_finished, user.user_id, eid, STOP_WAIT_SECONDS)
    # answer from the read model, once it shows the run ended (or the wait is over)
    deadline = time.monotonic() + container.settings.consistency_wait_seconds
    headers = {TOKEN_HEADER: token} if token else {}
    while True:
        final = await asyncio.to_thread(_run_or_none, container, user.user_id, str(eid))
        if final is not None and final["status"] in FINAL_STATUSES:
            return SafeJSONResponse({**finite_json(final), "consistency_token": token}, headers=headers)
        if time.monotonic() >= deadline:
            if final is None:
                raise ExecutionNotFoundError(f"Execution {execution_id} not found")
            stale = {**headers, STALE_HEADER: "true"}
            return SafeJSONResponse({**finite_json(final), "consistency_token": token}, headers=stale)
        await asyncio.sleep(0.01)


FINAL_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")


def _run_or_none(container: Container, user_id: str, execution_id: str) -> dict[str, Any] | None:
    try:
        return container.run_views.get_run(user_id, execution_id)
    except ExecutionNotFoundError:
        return None


@queries.get("/api/executions", summary="The caller's runs, newest first", dependencies=[RunsConsistent])
def list_executions(
    user: CurrentUser,
    container: ContainerDep,
    page: int = Query(1, ge=1),
    page_size: int = Query(25, ge=1, le=100),
) -> SafeJSONResponse:
    """Every run of the caller (sub-agent runs included), without node details."""
    return SafeJSONResponse(finite_json(container.run_views.list_runs(user.user_id, None, page, page_size)))


@queries.get(
    "/api/graphs/{graph_id}/executions",
    summary="Runs of one graph, newest first",
    dependencies=[GraphsConsistent, RunsConsistent],
)
def list_graph_executions(
    graph_id: str,
    user: CurrentUser,
    container: ContainerDep,
    page: int = Query(1, ge=1),
    page_size: int = Query(25, ge=1, le=100),
) -> SafeJSONResponse:
    """The caller's runs of this graph (any version)."""
    container.graph_views.get_graph(user.user_id, str(_uuid(graph_id, "Graph")))
    return SafeJSONResponse(finite_json(container.run_views.list_runs(user.user_id, graph_id, page, page_size)))


@queries.get(
    "/api/graphs/{graph_id}/executions/{execution_id}",
    summary="One run with its node executions",
    dependencies=[RunsConsistent],
)
def get_execution(graph_id: str, execution_id: str, user: CurrentUser, container: ContainerDep) -> SafeJSONResponse:
    """The run: id, graph_id, graph_version, status, inputs, outputs, stats, times, node_executions."""
    run = container.run_views.get_run(user.user_id, str(_uuid(execution_id)))
    if run["graph_id"] != graph_id:
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")
    return SafeJSONResponse(finite_json(run))
