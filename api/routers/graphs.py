"""``/api/graphs``: agent graphs, commands and queries on separate routers.

A user only ever sees their own graphs: someone else's graph, a deleted
graph and a malformed id all answer 404, never 403.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import ContainerDep
from api.consistency import TOKEN_HEADER, GraphsConsistent, token_for, with_token
from application.graphs import GraphNotFoundError
from domain.agent_format import GraphPayload

commands = APIRouter(prefix="/api/graphs", tags=["graphs"])
queries = APIRouter(prefix="/api/graphs", tags=["graphs"])

_GRAPH_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/CreateGraphRequest"},
                        {"$ref": "#/components/schemas/GraphPayload"},
                    ]
                }
            }
        },
    }
}


class CreateGraphRequest(BaseModel):
    """AutoGPT's create body: the graph wrapped in ``{"graph": ...}``."""

    model_config = ConfigDict(extra="ignore")

    graph: GraphPayload
    source: str | None = Field(default=None, description="Where the graph came from (informational)")


class SetActiveVersion(BaseModel):
    """Body of ``PUT /api/graphs/{id}/versions/active``."""

    active_graph_version: int = Field(ge=1)


class DeleteGraphResponse(BaseModel):
    """How many versions the deleted graph had."""

    version_counts: int
    consistency_token: str | None = None


def _parse_id(graph_id: str) -> UUID:
    try:
        return UUID(graph_id)
    except ValueError:
        raise GraphNotFoundError(f"Graph {graph_id} not found") from None


def _payload(body: Any) -> GraphPayload:
    """Accept AutoGPT's ``{"graph": {...}}`` or a bare graph / export."""
    if isinstance(body, dict) and isinstance(body.get("graph"), dict):
        return CreateGraphRequest.model_validate(body).graph
    return GraphPayload.model_validate(body)


@commands.post(
    "",
    status_code=200,
    summary="Create a graph or import an AutoGPT export",
    openapi_extra=_GRAPH_BODY_DOC,
)
def create_graph(
    user: CurrentUser, container: ContainerDep, response: Response, body: Any = Body(..., include_in_schema=False)
) -> dict[str, Any]:
    """Store a new graph (version 1) owned by the caller.

    Fresh ids are given to the graph, its nodes and links; an invalid graph is
    400 with ``node_errors`` and ``graph_errors`` and nothing is stored.
    """
    view = container.graphs.create_graph(user.user_id, _payload(body))
    return with_token(response, view.as_dict(), token_for(container, "graphs", view.graph.id))


@commands.put("/{graph_id}", summary="Save a new version of a graph", openapi_extra=_GRAPH_BODY_DOC)
def update_graph(
    graph_id: str,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
    body: Any = Body(..., include_in_schema=False),
) -> dict[str, Any]:
    """Record the body as version ``latest + 1`` and make it active."""
    view = container.graphs.update_graph(user.user_id, _parse_id(graph_id), _payload(body))
    return with_token(response, view.as_dict(), token_for(container, "graphs", view.graph.id))


@commands.put("/{graph_id}/versions/active", summary="Choose the active version")
def set_active_version(
    graph_id: str, body: SetActiveVersion, user: CurrentUser, container: ContainerDep, response: Response
) -> dict[str, Any]:
    """New executions and plain GETs use the active version."""
    view = container.graphs.set_active_version(user.user_id, _parse_id(graph_id), body.active_graph_version)
    return with_token(response, view.as_dict(), token_for(container, "graphs", view.graph.id))


@commands.delete("/{graph_id}", summary="Delete a graph (history is kept)")
def delete_graph(graph_id: str, user: CurrentUser, container: ContainerDep, response: Response) -> DeleteGraphResponse:
    """Soft delete: the graph disappears for its owner, its events stay for audit."""
    count = container.graphs.delete_graph(user.user_id, _parse_id(graph_id))
    token = token_for(container, "graphs", str(_parse_id(graph_id)))
    if token:
        response.headers[TOKEN_HEADER] = token
    return DeleteGraphResponse(version_counts=count, consistency_token=token)


@queries.get("", summary="List the caller's graphs", dependencies=[GraphsConsistent])
def list_graphs(user: CurrentUser, container: ContainerDep) -> list[dict[str, Any]]:
    """The active version of each of the caller's graphs, newest first."""
    return container.graph_views.list_graphs(user.user_id)


@queries.get("/{graph_id}", summary="Get a graph (active version unless ?version=)", dependencies=[GraphsConsistent])
def get_graph(graph_id: str, user: CurrentUser, container: ContainerDep, version: int | None = None) -> dict[str, Any]:
    """One version of one of the caller's graphs."""
    return container.graph_views.get_graph(user.user_id, str(_parse_id(graph_id)), version)


@queries.get("/{graph_id}/versions", summary="Every version of a graph", dependencies=[GraphsConsistent])
def list_versions(graph_id: str, user: CurrentUser, container: ContainerDep) -> list[dict[str, Any]]:
    """All versions, newest first."""
    return container.graph_views.list_versions(user.user_id, str(_parse_id(graph_id)))


@queries.get("/{graph_id}/versions/{version}", summary="One version of a graph", dependencies=[GraphsConsistent])
def get_version(graph_id: str, version: int, user: CurrentUser, container: ContainerDep) -> dict[str, Any]:
    """Same as ``GET /api/graphs/{id}?version=N``."""
    return container.graph_views.get_graph(user.user_id, str(_parse_id(graph_id)), version)


@queries.get("/{graph_id}/export", summary="Export a graph as AutoGPT JSON", dependencies=[GraphsConsistent])
def export_graph(
    graph_id: str, user: CurrentUser, container: ContainerDep, version: int | None = None
) -> dict[str, Any]:
    """The graph in AutoGPT's export shape, ready to import elsewhere."""
    return container.graph_views.export(user.user_id, str(_parse_id(graph_id)), version)
