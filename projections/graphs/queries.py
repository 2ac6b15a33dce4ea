"""Graph queries: every graph shape the API answers, read from ``graphs`` and ``graph_versions``.

``graph_model`` is the one builder of AutoGPT's ``GraphModel``: queries use
it on read-model rows, command routes on what a command returned.
"""

from __future__ import annotations

from typing import Any

from application.agent_block import AgentExecutorBlock
from domain.graph import GraphContent
from domain.graph_schema import (
    graph_credentials_input_schema,
    graph_input_schema,
    graph_output_schema,
    graph_traits,
)
from domain.graph_validation import BlockLookup
from domain.not_found import GraphNotFoundError
from projections.dead_letters import parked_counts
from projections.graphs.models import GraphMeta, GraphModel, LinkModel, NodeModel, SubGraphModel
from projections.store import ReadModelTx, ReadSource, iso, json_value

PROJECTION = "graphs"
"""The projection these queries read (``projections.graphs.projection``): whose parked events they report."""

MAX_SUB_GRAPHS = 100
"""An export collects at most this many sub-graphs (a bound on hostile references)."""


def graph_model(
    *,
    graph_id: str,
    version: int,
    is_active: bool,
    user_id: str,
    created_at: str,
    content: GraphContent,
    lookup: BlockLookup,
) -> GraphModel:
    """One graph version as AutoGPT's ``GraphModel`` (each node with its own link lists)."""
    links = [LinkModel.model_validate(link.model_dump()) for link in content.links]
    nodes = [
        NodeModel(
            id=node.id,
            block_id=node.block_id,
            input_default=node.input_default,
            metadata=node.metadata,
            input_links=[link for link in links if link.sink_id == node.id],
            output_links=[link for link in links if link.source_id == node.id],
            graph_id=graph_id,
            graph_version=version,
        )
        for node in content.nodes
    ]
    return GraphModel(
        id=graph_id,
        version=version,
        is_active=is_active,
        name=content.name,
        description=content.description,
        instructions=content.instructions,
        recommended_schedule_cron=content.recommended_schedule_cron,
        forked_from_id=content.forked_from_id,
        forked_from_version=content.forked_from_version,
        user_id=user_id,
        created_at=iso(created_at) or "",
        nodes=nodes,
        links=links,
        input_schema=graph_input_schema(content, lookup),
        output_schema=graph_output_schema(content, lookup),
        credentials_input_schema=graph_credentials_input_schema(content, lookup),
        **graph_traits(content, lookup),
    )


def _content(row: dict[str, Any]) -> GraphContent:
    return GraphContent.model_validate(
        {
            "name": row["name"] or "",
            "description": row["description"] or "",
            "instructions": row["instructions"],
            "recommended_schedule_cron": row["recommended_schedule_cron"],
            "forked_from_id": row["forked_from_id"],
            "forked_from_version": row["forked_from_version"],
            "nodes": json_value(row["nodes"]),
            "links": json_value(row["links"]),
        }
    )


class GraphQueries:
    """Graphs as the API shows them; another user's graph is not found."""

    def __init__(self, store: ReadSource, lookup: BlockLookup) -> None:
        self._store = store
        self._lookup = lookup

    def list_graphs(self, user_id: str) -> list[GraphMeta]:
        """The active version of each of the user's graphs, newest first, without nodes and links."""
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT g.graph_id, g.active_version, v.version, v.user_id, v.name, v.description, v.instructions, "
                "v.recommended_schedule_cron, v.forked_from_id, v.forked_from_version, v.created_at "
                f"FROM {tx.t('graphs')} g "
                f"JOIN {tx.t('graph_versions')} v ON v.graph_id = g.graph_id AND v.version = g.active_version "
                "WHERE g.user_id = :user_id AND NOT g.is_deleted ORDER BY g.created_at DESC, g.graph_id",
                {"user_id": user_id},
            )
            parked = parked_counts(tx, PROJECTION, [row["graph_id"] for row in rows])
        return [
            GraphMeta(
                id=row["graph_id"],
                version=int(row["version"]),
                is_active=True,
                name=row["name"] or "",
                description=row["description"] or "",
                instructions=row["instructions"],
                recommended_schedule_cron=row["recommended_schedule_cron"],
                forked_from_id=row["forked_from_id"],
                forked_from_version=row["forked_from_version"],
                user_id=row["user_id"],
                created_at=iso(row["created_at"]) or "",
                parked_events=parked.get(row["graph_id"]),
            )
            for row in rows
        ]

    def get_graph(self, user_id: str, graph_id: str, version: int | None = None) -> GraphModel:
        """One version (default: the active one) of one of the user's graphs."""
        with self._store.transaction() as tx:
            graph = self._graph(tx, user_id, graph_id)
            number = int(graph["active_version"]) if version is None else version
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('graph_versions')} WHERE graph_id = :graph_id AND version = :version",
                {"graph_id": graph_id, "version": number},
            )
            parked = parked_counts(tx, PROJECTION, [graph_id]).get(graph_id)
        if row is None:
            raise GraphNotFoundError(f"Graph {graph_id} has no version {number}")
        return self._model(row, int(graph["active_version"]), parked)

    def require_graph(self, user_id: str, graph_id: str) -> None:
        """Raise ``GraphNotFoundError`` unless the user owns this (undeleted) graph."""
        with self._store.transaction() as tx:
            self._graph(tx, user_id, graph_id)

    def list_versions(self, user_id: str, graph_id: str) -> list[GraphModel]:
        """Every version, newest first."""
        with self._store.transaction() as tx:
            graph = self._graph(tx, user_id, graph_id)
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('graph_versions')} WHERE graph_id = :graph_id ORDER BY version DESC",
                {"graph_id": graph_id},
            )
            parked = parked_counts(tx, PROJECTION, [graph_id]).get(graph_id)
        return [self._model(row, int(graph["active_version"]), parked) for row in rows]

    def export(self, user_id: str, graph_id: str, version: int | None = None) -> GraphModel:
        """One version in AutoGPT's export shape (``for_export``): no owner, no webhooks, sub-graphs included.

        Sub-graphs are the graphs reachable through AgentExecutorBlock nodes
        (breadth first, each once, only the user's own), as AutoGPT collects them.
        """
        main = self.get_graph(user_id, graph_id, version)
        update = {"user_id": "", "sub_graphs": self._sub_graphs(user_id, main), "parked_events": None}
        return main.model_copy(update=update)

    def _sub_graphs(self, user_id: str, main: GraphModel) -> list[SubGraphModel]:
        seen = {(main.id, main.version)}
        found: list[SubGraphModel] = []
        frontier: list[GraphModel] = [main]
        while frontier and len(found) < MAX_SUB_GRAPHS:
            wanted = [ref for graph in frontier for ref in _references(graph) if ref not in seen]
            frontier = []
            for ref in dict.fromkeys(wanted):
                seen.add(ref)
                child = self._version_of(user_id, *ref)
                if child is not None and len(found) < MAX_SUB_GRAPHS:
                    frontier.append(child)
                    found.append(SubGraphModel.model_validate(child.model_dump()))
        return found

    def _version_of(self, user_id: str, graph_id: str, version: int) -> GraphModel | None:
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('graph_versions')} "
                "WHERE graph_id = :graph_id AND version = :version AND user_id = :user_id",
                {"graph_id": graph_id, "version": version, "user_id": user_id},
            )
            graph = tx.fetchone(
                f"SELECT active_version FROM {tx.t('graphs')} WHERE graph_id = :graph_id", {"graph_id": graph_id}
            )
        if row is None:
            return None
        return self._model(row, int(graph["active_version"]) if graph else version)

    def _graph(self, tx: ReadModelTx, user_id: str, graph_id: str) -> dict[str, Any]:
        graph = tx.fetchone(
            f"SELECT * FROM {tx.t('graphs')} WHERE graph_id = :graph_id AND user_id = :user_id AND NOT is_deleted",
            {"graph_id": graph_id, "user_id": user_id},
        )
        if graph is None:
            raise GraphNotFoundError(f"Graph {graph_id} not found")
        return graph

    def _model(self, row: dict[str, Any], active_version: int, parked: int | None = None) -> GraphModel:
        model = graph_model(
            graph_id=row["graph_id"],
            version=int(row["version"]),
            is_active=int(row["version"]) == active_version,
            user_id=row["user_id"],
            created_at=iso(row["created_at"]) or "",
            content=_content(row),
            lookup=self._lookup,
        )
        return model if parked is None else model.model_copy(update={"parked_events": parked})


def _references(graph: GraphModel) -> list[tuple[str, int]]:
    """The (graph id, version) pairs a graph's AgentExecutorBlock nodes run (both given)."""
    refs = []
    for node in graph.nodes:
        if node.block_id != AgentExecutorBlock.id:
            continue
        child_id, child_version = node.input_default.get("graph_id"), node.input_default.get("graph_version")
        if isinstance(child_id, str) and child_id and isinstance(child_version, int) and child_version > 0:
            refs.append((child_id, child_version))
    return refs
