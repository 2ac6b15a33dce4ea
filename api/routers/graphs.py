"""``/api/graphs``: agent graphs, commands and queries on separate routers.

A user only ever sees their own graphs: someone else's graph, a deleted
graph and a malformed id all answer 404, never 403. Answers are AutoGPT's
shapes (``projections.graphs.models``); command answers add a
``consistency_token``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import GraphsConsistent, answer_with_token, token_for
from api.errors import responses
from api.ids import GraphId
from application.results import GraphSaved
from domain.agent_format import GraphPayload, NodePayload
from domain.json_codec import check_json_limits
from domain.numbers import VersionNumber
from projections.graphs.models import GraphDeletedAnswer, GraphMeta, GraphModel, GraphWritten
from projections.graphs.queries import graph_model

commands = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=responses(400, 401, 404, 409, 413, 422, 503))
queries = APIRouter(prefix="/api/graphs", tags=["graphs"], responses=responses(400, 401, 404, 422, 503))


class GraphBody(GraphPayload):
    """A graph as a client sends it: a name and a list of nodes at least (an AutoGPT export fits)."""

    name: str = Field(max_length=1000)
    nodes: list[NodePayload]


class CreateGraphRequest(BaseModel):
    """AutoGPT's create body: the graph wrapped in ``{"graph": ...}``."""

    model_config = ConfigDict(extra="ignore")

    graph: GraphBody
    source: str | None = Field(default=None, description="Where the graph came from (informational)")


_GRAPH_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/CreateGraphRequest"},
                        {"$ref": "#/components/schemas/GraphBody"},
                    ]
                }
            }
        },
    }
}
"""Both bodies AutoGPT clients send; the models are added to the document by ``api.app``."""

BODY_MODELS = (CreateGraphRequest, GraphBody)


class SetActiveVersion(BaseModel):
    """Body of ``PUT /api/graphs/{id}/versions/active``."""

    active_graph_version: VersionNumber


def _payload(body: Any) -> GraphPayload:
    """AutoGPT's ``{"graph": {...}}`` or a bare graph / export; anything else is 422, like any invalid body.

    A body over one of the JSON limits (``domain.json_codec``) is 422 naming the limit.
    """
    check_json_limits(body)
    try:
        if isinstance(body, dict) and "graph" in body:
            return CreateGraphRequest.model_validate(body).graph
        return GraphBody.model_validate(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False), body=None) from None


def _written(container: Container, saved: GraphSaved, response: Response) -> GraphWritten:
    model = graph_model(
        graph_id=str(saved.aggregate_id),
        version=saved.version,
        is_active=saved.is_active,
        user_id=saved.user_id,
        created_at=saved.created_at,
        content=saved.content,
        lookup=container.blocks.get,
    )
    token = answer_with_token(response, token_for(container, "graphs", saved))
    return GraphWritten(**model.model_dump(), consistency_token=token)


@commands.post("", summary="Create a graph or import an AutoGPT export", openapi_extra=_GRAPH_BODY_DOC)
def create_graph(
    user: CurrentUser, container: ContainerDep, response: Response, body: Any = Body(..., include_in_schema=False)
) -> GraphWritten:
    """Store a new graph (version 1) owned by the caller.

    Fresh ids are given to the graph, its nodes and links; an invalid graph is
    400 with ``detail.node_errors`` and nothing is stored.
    """
    saved = container.graphs.create_graph(user.user_id, _payload(body))
    return _written(container, saved, response)


@commands.put("/{graph_id}", summary="Save a new version of a graph", openapi_extra=_GRAPH_BODY_DOC)
def update_graph(
    graph_id: GraphId,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
    body: Any = Body(..., include_in_schema=False),
) -> GraphWritten:
    """Record the body as version ``latest + 1`` and make it active."""
    saved = container.graphs.update_graph(user.user_id, graph_id, _payload(body))
    return _written(container, saved, response)


@commands.put("/{graph_id}/versions/active", summary="Choose the active version")
def set_active_version(
    graph_id: GraphId, body: SetActiveVersion, user: CurrentUser, container: ContainerDep, response: Response
) -> GraphWritten:
    """New executions and plain GETs use the active version."""
    saved = container.graphs.set_active_version(user.user_id, graph_id, body.active_graph_version)
    return _written(container, saved, response)


@commands.delete("/{graph_id}", summary="Delete a graph (history is kept)")
def delete_graph(
    graph_id: GraphId, user: CurrentUser, container: ContainerDep, response: Response
) -> GraphDeletedAnswer:
    """Soft delete: the graph disappears for its owner, its events stay for audit."""
    deleted = container.graphs.delete_graph(user.user_id, graph_id)
    token = answer_with_token(response, token_for(container, "graphs", deleted))
    return GraphDeletedAnswer(version_counts=deleted.version_count, consistency_token=token)


@queries.get("", summary="List the caller's graphs", dependencies=[GraphsConsistent])
def list_graphs(user: CurrentUser, container: ContainerDep) -> list[GraphMeta]:
    """The active version of each of the caller's graphs, newest first (AutoGPT's GraphMeta: no nodes)."""
    return container.graph_queries.list_graphs(user.user_id)


@queries.get("/{graph_id}", summary="Get a graph (active version unless ?version=)", dependencies=[GraphsConsistent])
def get_graph(
    graph_id: GraphId,
    user: CurrentUser,
    container: ContainerDep,
    version: VersionNumber | None = None,
    for_export: bool = Query(False, description="AutoGPT's export shape: no owner, sub-graphs included"),
) -> GraphModel:
    """One version of one of the caller's graphs (AutoGPT's GraphModel)."""
    if for_export:
        return container.graph_queries.export(user.user_id, str(graph_id), version)
    return container.graph_queries.get_graph(user.user_id, str(graph_id), version)


@queries.get("/{graph_id}/versions", summary="Every version of a graph", dependencies=[GraphsConsistent])
def list_versions(graph_id: GraphId, user: CurrentUser, container: ContainerDep) -> list[GraphModel]:
    """All versions, newest first."""
    return container.graph_queries.list_versions(user.user_id, str(graph_id))


@queries.get("/{graph_id}/versions/{version}", summary="One version of a graph", dependencies=[GraphsConsistent])
def get_version(graph_id: GraphId, version: VersionNumber, user: CurrentUser, container: ContainerDep) -> GraphModel:
    """Same as ``GET /api/graphs/{id}?version=N``."""
    return container.graph_queries.get_graph(user.user_id, str(graph_id), version)


@queries.get("/{graph_id}/export", summary="Export a graph as AutoGPT JSON", dependencies=[GraphsConsistent])
def export_graph(
    graph_id: GraphId, user: CurrentUser, container: ContainerDep, version: VersionNumber | None = None
) -> GraphModel:
    """Same as ``GET /api/graphs/{id}?for_export=true``: ready to import elsewhere."""
    return container.graph_queries.export(user.user_id, str(graph_id), version)
