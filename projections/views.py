"""The query side: what GET routes answer, read only from the read models.

Shapes are AutoGPT's (graph JSON, graph execution with node executions);
ownership rules are the write side's: another user's graph or run is "not
found", never "forbidden".
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from application.executions import ExecutionNotFoundError
from application.graphs import GraphNotFoundError
from domain.agent_format import export_graph
from domain.graph import GraphContent, GraphVersion
from domain.graph_schema import graph_input_schema, graph_output_schema
from domain.graph_validation import BlockLookup
from projections.store import ReadModelTx


class ReadSource(Protocol):
    """A read-model store, as the views use it."""

    def transaction(self, *, rebuild: bool = False) -> AbstractContextManager[ReadModelTx]:
        """A read-model transaction."""
        ...


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


class GraphViews:
    """Graphs as the API shows them."""

    def __init__(self, store: ReadSource, lookup: BlockLookup) -> None:
        self._store = store
        self._lookup = lookup

    def list_graphs(self, user_id: str) -> list[dict[str, Any]]:
        """The active version of each of the user's graphs, newest first."""
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT g.graph_id, g.active_version, v.* FROM {tx.t('graphs')} g "
                f"JOIN {tx.t('graph_versions')} v ON v.graph_id = g.graph_id AND v.version = g.active_version "
                "WHERE g.user_id = :user_id AND NOT g.is_deleted ORDER BY g.created_at DESC, g.graph_id",
                {"user_id": user_id},
            )
        return [self._view(row, int(row["active_version"])) for row in rows]

    def get_graph(self, user_id: str, graph_id: str, version: int | None = None) -> dict[str, Any]:
        """One version (default: the active one) of one of the user's graphs."""
        with self._store.transaction() as tx:
            graph = self._graph(tx, user_id, graph_id)
            number = int(graph["active_version"]) if version is None else version
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('graph_versions')} WHERE graph_id = :graph_id AND version = :version",
                {"graph_id": graph_id, "version": number},
            )
        if row is None:
            raise GraphNotFoundError(f"Graph {graph_id} has no version {number}")
        return self._view(row, int(graph["active_version"]))

    def list_versions(self, user_id: str, graph_id: str) -> list[dict[str, Any]]:
        """Every version, newest first."""
        with self._store.transaction() as tx:
            graph = self._graph(tx, user_id, graph_id)
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('graph_versions')} WHERE graph_id = :graph_id ORDER BY version DESC",
                {"graph_id": graph_id},
            )
        return [self._view(row, int(graph["active_version"])) for row in rows]

    def export(self, user_id: str, graph_id: str, version: int | None = None) -> dict[str, Any]:
        """One version in AutoGPT's export shape."""
        view = self.get_graph(user_id, graph_id, version)
        return export_graph(GraphVersion.model_validate(view), self._lookup)

    def _graph(self, tx: ReadModelTx, user_id: str, graph_id: str) -> dict[str, Any]:
        graph = tx.fetchone(
            f"SELECT * FROM {tx.t('graphs')} WHERE graph_id = :graph_id AND user_id = :user_id AND NOT is_deleted",
            {"graph_id": graph_id, "user_id": user_id},
        )
        if graph is None:
            raise GraphNotFoundError(f"Graph {graph_id} not found")
        return graph

    def _view(self, row: dict[str, Any], active_version: int) -> dict[str, Any]:
        content = GraphContent.model_validate(
            {
                "name": row["name"] or "",
                "description": row["description"] or "",
                "instructions": row["instructions"],
                "nodes": _json(row["nodes"]),
                "links": _json(row["links"]),
            }
        )
        return {
            **content.model_dump(),
            "id": row["graph_id"],
            "version": int(row["version"]),
            "is_active": int(row["version"]) == active_version,
            "user_id": row["user_id"],
            "created_at": _iso(row["created_at"]),
            "sub_graphs": [],
            "input_schema": graph_input_schema(content, self._lookup),
            "output_schema": graph_output_schema(content, self._lookup),
        }


class ExecutionViews:
    """Runs as the API shows them."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    def list_runs(self, user_id: str, graph_id: str | None, page: int, page_size: int) -> dict[str, Any]:
        """A page of the user's runs (of one graph if given), newest first, without node details."""
        where = "user_id = :user_id" + (" AND graph_id = :graph_id" if graph_id else "")
        params: dict[str, Any] = {"user_id": user_id, "graph_id": graph_id}
        with self._store.transaction() as tx:
            total = tx.fetchone(f"SELECT COUNT(*) AS n FROM {tx.t('executions')} WHERE {where}", params)
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('executions')} WHERE {where} "
                "ORDER BY created_at DESC, execution_id LIMIT :limit OFFSET :offset",
                {**params, "limit": page_size, "offset": (page - 1) * page_size},
            )
        count = int(total["n"]) if total else 0
        return {
            "executions": [self._run(row) for row in rows],
            "pagination": {
                "total_items": count,
                "total_pages": max(1, -(-count // page_size)),
                "current_page": page,
                "page_size": page_size,
            },
        }

    def get_run(self, user_id: str, execution_id: str) -> dict[str, Any]:
        """One run with its node executions."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('executions')} WHERE execution_id = :id AND user_id = :user_id",
                {"id": execution_id, "user_id": user_id},
            )
            if row is None:
                raise ExecutionNotFoundError(f"Execution {execution_id} not found")
            nodes = tx.fetchall(
                f"SELECT * FROM {tx.t('node_executions')} WHERE execution_id = :id "
                "ORDER BY add_time, queue_time, node_exec_id",
                {"id": execution_id},
            )
        return {**self._run(row), "node_executions": [self._node(n) for n in nodes]}

    def _run(self, row: dict[str, Any]) -> dict[str, Any]:
        stats = _json(row["stats"])
        return {
            "id": row["execution_id"],
            "graph_id": row["graph_id"],
            "graph_version": int(row["graph_version"]),
            "user_id": row["user_id"],
            "status": row["status"],
            "inputs": _json(row["inputs"]),
            "outputs": _json(row["outputs"]),
            "stats": stats or None,
            "created_at": _iso(row["created_at"]),
            "started_at": _iso(row["started_at"]),
            "ended_at": _iso(row["ended_at"]),
            "parent_execution_id": row["parent_execution_id"],
            "error": row["error"],
        }

    def _node(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "node_exec_id": row["node_exec_id"],
            "node_id": row["node_id"],
            "block_id": row["block_id"],
            "status": row["status"],
            "input_data": _json(row["input_data"]),
            "output_data": _json(row["output_data"]),
            "add_time": _iso(row["add_time"]),
            "queue_time": _iso(row["queue_time"]),
            "start_time": _iso(row["start_time"]),
            "end_time": _iso(row["end_time"]),
            "stats": _json(row["stats"]),
        }
