"""Executions: run a graph, stop a run, list and read runs.

Routes follow AutoGPT: ``POST /api/graphs/{id}/execute/{version}``,
``POST /api/graphs/{id}/executions/{exec_id}/stop``, ``GET /api/executions``
(a bare list; page facts in headers), ``GET /api/graphs/{id}/executions``
(``{executions, pagination}``) and ``GET /api/graphs/{id}/executions/{exec_id}``;
housekeeping: ``DELETE /api/executions/{exec_id}`` (soft), ``POST|DELETE
/api/graphs/{id}/executions/{exec_id}/share`` and the public
``GET /api/public/shared/{share_token}`` (no auth: the token is the key).
Answers are AutoGPT's shapes (``projections.executions.models``).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import (
    STALE_HEADER,
    GraphsConsistent,
    RunsConsistent,
    answer_with_token,
    decode_token,
    token_for,
)
from api.errors import responses
from api.ids import ExecutionId, GraphId
from api.routers.credits import require_credits_to_run
from domain.execution_status import TERMINAL, ExecutionStatus
from domain.json_codec import check_json_limits
from domain.not_found import ExecutionNotFoundError, GraphNotFoundError
from domain.numbers import VersionNumber
from projections.executions.models import (
    GraphExecutionMeta,
    GraphExecutionsPaginated,
    GraphExecutionWithNodes,
    Pagination,
    RunStopped,
    RunWritten,
    SharedExecutionResponse,
    ShareResponse,
)
from projections.executions.queries import run_meta

commands = APIRouter(tags=["executions"], responses=responses(400, 401, 404, 413, 422, 503))
queries = APIRouter(tags=["executions"], responses=responses(400, 401, 404, 422, 503))

MAX_PAGE = 1_000_000
"""Pages beyond this are refused (422): no one pages that far, and the number must fit the database."""

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the newest runs")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Runs per page")]

STOP_WAIT_SECONDS = 5.0
"""How long the stop route waits for the run to end before answering with its state."""

TOTAL_HEADER = "X-Total-Count"
PAGES_HEADER = "X-Total-Pages"
_PAGE_HEADERS: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL_HEADER: {"description": "Runs in all", "schema": {"type": "integer"}},
            PAGES_HEADER: {"description": "Pages of this size", "schema": {"type": "integer"}},
        }
    }
}


class ExecuteGraphRequest(BaseModel):
    """Body of ``POST /api/graphs/{id}/execute/{version}``; the whole body keeps ``domain.json_codec``'s limits."""

    model_config = ConfigDict(extra="ignore")

    inputs: dict[str, Any] = Field(default_factory=dict, description="Graph inputs by input name")
    credentials_inputs: dict[str, Any] = Field(
        default_factory=dict, description="Credentials references ({id, provider, type, title}) by field name"
    )


@commands.post(
    "/api/graphs/{graph_id}/execute/{graph_version}", summary="Run a graph version", responses=responses(402)
)
def execute_graph(
    graph_id: GraphId,
    graph_version: VersionNumber,
    body: Annotated[ExecuteGraphRequest, BeforeValidator(check_json_limits)],
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> RunWritten:
    """Queue a run of a version of the caller's graph or a store agent in their library (AutoGPT's GraphExecutionMeta).

    400 with ``detail.node_errors`` for missing or invalid inputs; 404 for
    someone else's, a deleted or an unknown graph or version; 402 (nothing
    recorded) when credits are enabled and the caller's balance is 0 or less.
    """
    require_credits_to_run(container, user.user_id)
    # the caller's own graph, or a store agent in the caller's library (``application.library.RunnableGraphs``)
    content = container.runnable_graphs.graph_for_run(user.user_id, str(graph_id), graph_version, new_run=True)
    requested = container.executions.request_execution(
        user_id=user.user_id,
        graph_id=str(graph_id),
        graph_version=graph_version,
        graph=content,
        lookup=container.blocks.get,
        inputs=body.inputs,
        credentials_inputs=body.credentials_inputs,
        secrets=container.run_inputs,
    )
    meta = run_meta(
        execution_id=str(requested.aggregate_id),
        user_id=requested.user_id,
        graph_id=requested.graph_id,
        graph_version=requested.graph_version,
        status=ExecutionStatus.QUEUED,
        inputs=requested.inputs,
        credential_inputs=requested.credentials_inputs,
    )
    token = answer_with_token(response, token_for(container, "executions", requested))
    return RunWritten(**meta.model_dump(), consistency_token=token)


@commands.post("/api/graphs/{graph_id}/executions/{execution_id}/stop", summary="Stop a run")
async def stop_execution(
    graph_id: GraphId, execution_id: ExecutionId, user: CurrentUser, container: ContainerDep, response: Response
) -> RunStopped:
    """Stop the run (and its sub-agent runs); answers once the read model shows it ended.

    After ``STOP_WAIT_SECONDS`` plus the consistency wait it answers with the
    run as it stands, marked ``X-Consistency-Stale: true`` when the read model
    has not applied the stop yet.
    """
    written = await asyncio.to_thread(container.executions.request_stop, user.user_id, execution_id, str(graph_id))
    token = answer_with_token(response, token_for(container, "executions", written))
    deadline = time.monotonic() + STOP_WAIT_SECONDS + container.settings.consistency_wait_seconds
    # the wait polls the run's status only: a looping run has tens of thousands of node rows, and reading
    # them every 20 ms (on SQLite, through the one connection the projector writes with) kept the stop from
    # ever being projected in time
    queries = container.run_queries
    while True:
        status = await asyncio.to_thread(queries.status_of, user.user_id, str(execution_id))
        ended = status is not None and status in TERMINAL
        if ended or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.02)
    run = await asyncio.to_thread(_run_or_none, container, user.user_id, str(execution_id))
    ended = run is not None and run.status in TERMINAL
    if run is None:
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")
    if not ended and token is not None and not await asyncio.to_thread(_applied, container, token):
        response.headers[STALE_HEADER] = "true"
    return RunStopped(**run.model_dump(), consistency_token=token)


@commands.delete(
    "/api/executions/{execution_id}",
    summary="Delete a finished run (soft)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=responses(409),
)
def delete_execution(execution_id: ExecutionId, user: CurrentUser, container: ContainerDep) -> Response:
    """Soft-delete one of the caller's runs, as AutoGPT (204): it is gone from every list, read and statistic.

    The run's events stay (``GraphExecution.Deleted`` is appended); its share
    link, if any, stops working with it. Only a finished run is deleted: a
    queued or running one is 409 (stop it first; AutoGPT deletes it anyway and
    leaves it running unseen). Someone else's, an unknown or an already
    deleted run is 404, and nothing is recorded.
    """
    written = container.executions.delete_execution(user.user_id, execution_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    answer_with_token(response, token_for(container, "executions", written))
    return response


@commands.post(
    "/api/graphs/{graph_id}/executions/{execution_id}/share",
    summary="Share a finished run's outputs by a public link",
    responses=responses(409),
)
def share_execution(
    graph_id: GraphId, execution_id: ExecutionId, user: CurrentUser, container: ContainerDep, response: Response
) -> ShareResponse:
    """AutoGPT's ``ShareResponse`` ``{share_url, share_token}``: anyone holding the token reads the run's outputs.

    ``share_url`` is the path of the public page (``/share/<token>``, on the
    front end's origin), ``GET /api/public/shared/{share_token}`` its data.
    The token is 256 random bits (``secrets.token_urlsafe``). Sharing a run
    shared already answers the same token (a link handed out keeps working;
    AutoGPT mints a new one). Only a finished run is shared (409 otherwise);
    someone else's, an unknown or a deleted run is 404 and nothing is recorded.
    """
    written = container.executions.share_execution(user.user_id, execution_id, str(graph_id))
    answer_with_token(response, token_for(container, "executions", written))
    return ShareResponse(share_url=f"/share/{written.share_token}", share_token=written.share_token)


@commands.delete(
    "/api/graphs/{graph_id}/executions/{execution_id}/share",
    summary="Stop sharing a run",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def unshare_execution(
    graph_id: GraphId, execution_id: ExecutionId, user: CurrentUser, container: ContainerDep
) -> Response:
    """The run's share token stops working at once (204; also for a run that was not shared).

    Someone else's, an unknown or a deleted run is 404 and nothing is recorded.
    """
    written = container.executions.unshare_execution(user.user_id, execution_id, str(graph_id))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    answer_with_token(response, token_for(container, "executions", written))
    return response


def _run_or_none(container: Container, user_id: str, execution_id: str) -> GraphExecutionWithNodes | None:
    try:
        return container.run_queries.get_run(user_id, execution_id)
    except ExecutionNotFoundError:
        return None


def _applied(container: Container, token: str) -> bool:
    store = container.read_store
    return all(store.has_applied("executions", c, p, part) for c, (p, part) in decode_token(token).items())


@queries.get(
    "/api/executions",
    summary="The caller's runs, newest first",
    dependencies=[RunsConsistent],
    responses=_PAGE_HEADERS,
)
def list_executions(
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> list[GraphExecutionMeta]:
    """Every run of the caller (sub-agent runs included), without results, as a bare list.

    Page with ``?page=&page_size=``; ``X-Total-Count`` and ``X-Total-Pages`` say how many there are.
    """
    runs, total = container.run_queries.list_runs(user.user_id, None, page, page_size)
    response.headers[TOTAL_HEADER] = str(total)
    response.headers[PAGES_HEADER] = str(_pages(total, page_size))
    return runs


@queries.get(
    "/api/graphs/{graph_id}/executions",
    summary="Runs of one graph, newest first",
    dependencies=[GraphsConsistent, RunsConsistent],
)
def list_graph_executions(
    graph_id: GraphId,
    user: CurrentUser,
    container: ContainerDep,
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> GraphExecutionsPaginated:
    """The caller's runs of this graph (any version), AutoGPT's paginated shape.

    The graph is the caller's own, or a store agent in their library (their runs of it are theirs).
    """
    try:
        container.graph_queries.require_graph(user.user_id, str(graph_id))
    except GraphNotFoundError:
        if not container.library_queries.in_library(user.user_id, str(graph_id)):
            raise
    runs, total = container.run_queries.list_runs(user.user_id, str(graph_id), page, page_size)
    pagination = Pagination(
        total_items=total, total_pages=_pages(total, page_size), current_page=page, page_size=page_size
    )
    return GraphExecutionsPaginated(executions=runs, pagination=pagination)


@queries.get(
    "/api/graphs/{graph_id}/executions/{execution_id}",
    summary="One run with its node executions",
    dependencies=[RunsConsistent],
)
def get_execution(
    graph_id: GraphId, execution_id: ExecutionId, user: CurrentUser, container: ContainerDep
) -> GraphExecutionWithNodes:
    """The run with its outputs and node executions (AutoGPT's GraphExecutionWithNodes)."""
    return container.run_queries.get_run(user.user_id, str(execution_id), str(graph_id))


SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,100}")
"""What a share token may look like; anything else names no shared run (404, without a read)."""

public = APIRouter(tags=["executions"], responses=responses(400, 404, 422, 503))
"""Routes without auth (the query side): a shared run's page, keyed by its unguessable token."""


@public.get(
    "/api/public/shared/{share_token}",
    summary="A shared run's outputs (no auth)",
    dependencies=[RunsConsistent],
)
def get_shared_execution(
    share_token: Annotated[str, Path(description="The token the owner's share answered")],
    container: ContainerDep,
    response: Response,
) -> SharedExecutionResponse:
    """AutoGPT's ``SharedExecutionResponse``: the run's id, graph name and description, status, creation time and
    graph outputs; never its inputs, node executions, owner, credentials or error texts (secret inputs read masked).

    An unknown, malformed or revoked token, and the token of a deleted run, are
    the same 404. Answers are ``Cache-Control: no-store``: an unshare takes
    effect at once, with no cached copy left. Rate limited per client address
    like every unauthenticated request (``api.rate_limit``).
    """
    response.headers["Cache-Control"] = "no-store"
    if not SHARE_TOKEN.fullmatch(share_token):
        raise ExecutionNotFoundError("Shared execution not found")
    return container.run_queries.shared_run(share_token)


def _pages(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))
