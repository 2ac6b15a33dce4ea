"""Execution queries: every run shape the API answers, read from ``executions`` and ``node_executions``.

``run_meta`` is the one builder of ``GraphExecutionMeta``: queries use it on
read-model rows, the execute route on what the command returned.
"""

from __future__ import annotations

from typing import Any

from domain.execution_status import ExecutionStatus
from domain.json_values import finite_json
from domain.not_found import ExecutionNotFoundError
from projections.dead_letters import parked_counts
from projections.executions.models import (
    ExecutionStats,
    GraphExecution,
    GraphExecutionMeta,
    GraphExecutionWithNodes,
    NodeExecutionResult,
    SharedExecutionResponse,
)
from projections.store import ReadSource, iso, json_value

PROJECTION = "executions"
"""The projection these queries read (``projections.executions.projection``): whose parked events they report."""


def run_meta(
    *,
    execution_id: str,
    user_id: str,
    graph_id: str,
    graph_version: int,
    status: ExecutionStatus | str,
    inputs: dict[str, Any] | None,
    credential_inputs: dict[str, Any] | None = None,
    started_at: str | None = None,
    ended_at: str | None = None,
    stats: dict[str, Any] | None = None,
    share_token: str | None = None,
    preset_id: str | None = None,
) -> GraphExecutionMeta:
    """One run as AutoGPT's ``GraphExecutionMeta``."""
    return GraphExecutionMeta(
        id=execution_id,
        user_id=user_id,
        graph_id=graph_id,
        graph_version=graph_version,
        inputs=finite_json(inputs) if inputs is not None else None,
        credential_inputs=credential_inputs or None,
        preset_id=preset_id,
        status=ExecutionStatus(status),
        started_at=started_at,
        ended_at=ended_at,
        stats=_stats(stats),
        is_shared=share_token is not None,
        share_token=share_token,
    )


def _stats(stats: dict[str, Any] | None) -> ExecutionStats | None:
    """Our recorded run stats under AutoGPT's names (None until the run ended)."""
    if not stats:
        return None
    values = finite_json(dict(stats))
    # the executor records one CPU figure: the CPU time of the node executions
    values.setdefault("node_exec_time_cpu_only", values.get("duration_cpu_only", 0.0))
    values["cost"] = int(values.get("cost") or 0)
    return ExecutionStats.model_validate(values)


def _meta(row: dict[str, Any], parked: dict[str, int]) -> GraphExecutionMeta:
    meta = run_meta(
        execution_id=row["execution_id"],
        user_id=row["user_id"],
        graph_id=row["graph_id"],
        graph_version=int(row["graph_version"]),
        status=row["status"],
        inputs=json_value(row["inputs"]),
        credential_inputs=json_value(row["credential_inputs"]),
        started_at=iso(row["started_at"]),
        ended_at=iso(row["ended_at"]),
        stats=json_value(row["stats"]),
        share_token=row.get("share_token"),
        preset_id=row.get("preset_id"),
    )
    count = parked.get(row["execution_id"])
    return meta if count is None else meta.model_copy(update={"parked_events": count})


class ExecutionQueries:
    """Runs as the API shows them; another user's run, and a deleted one, is not found."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    def list_runs(
        self, user_id: str, graph_id: str | None, page: int, page_size: int
    ) -> tuple[list[GraphExecutionMeta], int]:
        """A page of the user's runs (of one graph if given), newest first, and how many there are in all."""
        where = "user_id = :user_id AND deleted_at IS NULL" + (" AND graph_id = :graph_id" if graph_id else "")
        params: dict[str, Any] = {"user_id": user_id, "graph_id": graph_id}
        with self._store.transaction() as tx:
            total = tx.fetchone(f"SELECT COUNT(*) AS n FROM {tx.t('executions')} WHERE {where}", params)
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('executions')} WHERE {where} "
                "ORDER BY created_at DESC, execution_id LIMIT :limit OFFSET :offset",
                {**params, "limit": page_size, "offset": (page - 1) * page_size},
            )
            parked = parked_counts(tx, PROJECTION, [row["execution_id"] for row in rows])
        return [_meta(row, parked) for row in rows], int(total["n"]) if total else 0

    def status_of(self, user_id: str, execution_id: str) -> str | None:
        """The run's status alone (None: not the user's run, or not projected yet): one row, however long the run."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT status FROM {tx.t('executions')} WHERE execution_id = :id AND user_id = :user_id "
                "AND deleted_at IS NULL",
                {"id": execution_id, "user_id": user_id},
            )
        return None if row is None else str(row["status"])

    def get_run(self, user_id: str, execution_id: str, graph_id: str | None = None) -> GraphExecutionWithNodes:
        """One run with its node executions (not found unless it is a run of ``graph_id`` when given)."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('executions')} WHERE execution_id = :id AND user_id = :user_id "
                "AND deleted_at IS NULL",
                {"id": execution_id, "user_id": user_id},
            )
            if row is None or (graph_id is not None and row["graph_id"] != graph_id):
                raise ExecutionNotFoundError(f"Execution {execution_id} not found")
            nodes = tx.fetchall(
                f"SELECT * FROM {tx.t('node_executions')} WHERE execution_id = :id "
                "ORDER BY (queue_time IS NULL), queue_time, add_time, node_exec_id",
                {"id": execution_id},
            )
            parked = parked_counts(tx, PROJECTION, [execution_id])
        run = GraphExecution(**_meta(row, parked).model_dump(), outputs=json_value(row["outputs"]) or {})
        return GraphExecutionWithNodes(
            **run.model_dump(),
            node_executions=[
                NodeExecutionResult(
                    user_id=row["user_id"],
                    graph_id=row["graph_id"],
                    graph_version=int(row["graph_version"]),
                    graph_exec_id=execution_id,
                    node_exec_id=node["node_exec_id"],
                    node_id=node["node_id"],
                    block_id=node["block_id"],
                    status=ExecutionStatus(node["status"]),
                    input_data=json_value(node["input_data"]) or {},
                    output_data=json_value(node["output_data"]) or {},
                    add_time=iso(node["add_time"]),
                    queue_time=iso(node["queue_time"]),
                    start_time=iso(node["start_time"]),
                    end_time=iso(node["end_time"]),
                    stats=json_value(node["stats"]) or None,
                )
                for node in nodes
            ],
        )

    def shared_run(self, share_token: str) -> SharedExecutionResponse:
        """The run ``share_token`` shares, outputs only; not found for an unknown, revoked or deleted run's token.

        One lookup by primary key, then the run by its key: an unknown token and
        a revoked one cost the same reads and get the same answer.
        """
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT e.execution_id, e.graph_id, e.graph_version, e.status, e.created_at, e.outputs, "
                f"v.name, v.description FROM {tx.t('shared_executions')} s "
                f"JOIN {tx.t('executions')} e ON e.execution_id = s.execution_id "
                f"LEFT JOIN {tx.t('graph_versions')} v ON v.graph_id = e.graph_id AND v.version = e.graph_version "
                "WHERE s.share_token = :token AND e.share_token = :token AND e.deleted_at IS NULL",
                {"token": share_token},
            )
        if row is None:
            raise ExecutionNotFoundError("Shared execution not found")
        return SharedExecutionResponse(
            id=row["execution_id"],
            graph_name=row["name"] or "",
            graph_description=row["description"],
            status=ExecutionStatus(row["status"]),
            created_at=iso(row["created_at"]) or "",
            outputs=finite_json(json_value(row["outputs"]) or {}),
        )
