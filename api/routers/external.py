"""``/external-api/v1``: AutoGPT's external API, for programs holding an API key (``X-API-Key``).

One permission per route, as AutoGPT: ``GET /me`` (IDENTITY), ``GET /blocks``
(READ_BLOCK), ``POST /blocks/{id}/execute`` (EXECUTE_BLOCK),
``POST /graphs/{id}/execute/{version}`` (EXECUTE_GRAPH) -> ``{id}``,
``GET /graphs/{id}/executions/{exec_id}/results`` (READ_GRAPH). A missing,
unknown, suspended or revoked key is 401; a key without the route's
permission is 403. The acting user is the key's owner: the routes call the
same application commands and read-model queries as the JWT routes, so a key
only ever reaches its owner's graphs and runs (anyone else's are 404).
Commands and queries are separate routers, like the JWT routes'.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import AfterValidator, BaseModel, Field

from api.api_key_auth import ApiKeyCaller, require_permission
from api.composition import ContainerDep
from api.errors import responses
from api.ids import ExecutionId, GraphId
from api.json_response import SafeJSONResponse
from api.routers import blocks, executions
from domain.api_key import APIKeyPermission
from domain.json_codec import check_json_limits
from domain.numbers import VersionNumber

PREFIX = "/external-api/v1"

commands = APIRouter(prefix=PREFIX, tags=["external-api"], responses=responses(400, 401, 403, 404, 413, 422, 503))
queries = APIRouter(prefix=PREFIX, tags=["external-api"], responses=responses(401, 403, 404, 422, 503))

Identity = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.IDENTITY)]
ReadBlock = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.READ_BLOCK)]
ExecuteBlock = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.EXECUTE_BLOCK)]
ExecuteGraph = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.EXECUTE_GRAPH)]
ReadGraph = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.READ_GRAPH)]


class UserInfo(BaseModel):
    """The key's owner (the platform keeps no profile: name and email are unknown here)."""

    id: str
    name: str | None = None
    email: str | None = None
    timezone: str = "not-set"


class ExecutionStarted(BaseModel):
    """The queued run's id."""

    id: str


class NodeResult(BaseModel):
    """One node execution of a run: its input and output pins."""

    node_id: str
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, list[Any]] = Field(default_factory=dict)


class ExecutionResults(BaseModel):
    """A run's status and results, node by node, and the graph's outputs."""

    execution_id: str
    status: str
    nodes: list[NodeResult]
    output: dict[str, list[Any]] | None = None


@queries.get("/me", summary="Who the key belongs to")
async def me(caller: Identity) -> UserInfo:
    """The key owner's id."""
    return UserInfo(id=caller.user_id)


@queries.get("/blocks", summary="List every block")
def list_blocks(caller: ReadBlock, container: ContainerDep) -> list[blocks.BlockInfo]:
    """Every block (AutoGPT's BlockInfo), as ``GET /api/blocks``."""
    return blocks.list_blocks(caller.user, container)


@commands.post("/blocks/{block_id}/execute", summary="Run one block", response_model=dict[str, list[Any]])
async def execute_block(
    caller: ExecuteBlock,
    block_id: str,
    container: ContainerDep,
    data: Annotated[dict[str, Any], AfterValidator(check_json_limits), Body()],
) -> SafeJSONResponse:
    """Run the block once on ``data`` and return ``{pin: [values]}`` (as ``POST /api/blocks/{id}/execute``)."""
    return await blocks.execute_block(block_id, caller.user, container, data)


@commands.post("/graphs/{graph_id}/execute/{graph_version}", summary="Run a graph version", responses=responses(402))
def execute_graph(
    caller: ExecuteGraph,  # first: a key is checked before the ids (401/403 before 404)
    graph_id: GraphId,
    graph_version: VersionNumber,
    container: ContainerDep,
    response: Response,
    node_input: Annotated[dict[str, Any], AfterValidator(check_json_limits), Body()],
) -> ExecutionStarted:
    """Queue a run of one of the key owner's graphs with ``node_input`` as its inputs; answers ``{id}``."""
    request = executions.ExecuteGraphRequest(inputs=node_input)
    run = executions.execute_graph(graph_id, graph_version, request, caller.user, container, response)
    return ExecutionStarted(id=run.id)


@queries.get("/graphs/{graph_id}/executions/{execution_id}/results", summary="A run's results")
def execution_results(
    caller: ReadGraph, graph_id: GraphId, execution_id: ExecutionId, container: ContainerDep
) -> ExecutionResults:
    """The run's status, each node execution's input and output, and the graph's outputs."""
    run = container.run_queries.get_run(caller.user_id, str(execution_id), str(graph_id))
    return ExecutionResults(
        execution_id=run.id,
        status=str(run.status),
        nodes=[
            NodeResult(node_id=node.node_id, input=node.input_data, output=node.output_data)
            for node in run.node_executions
        ],
        output=run.outputs,
    )
