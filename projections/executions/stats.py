"""The statistics derived from execution rows: per graph, per user and per block.

Graph and user statistics are recomputed from the ``executions`` rows in the
same transaction that changed them, so they never disagree with them; block
usage is counted one node execution at a time, in log order.
"""

from __future__ import annotations

from typing import Any

from projections.executions.tables import GRAPH_STATS, USER_STATS
from projections.store import ReadModelTx


def new_block_usage(block_id: str) -> dict[str, Any]:
    """The usage row of a block that has not run yet."""
    return {"block_id": block_id, "runs": 0, "failures": 0, "total_walltime_seconds": 0.0, "avg_walltime_seconds": None}


def count_block_run(usage: dict[str, Any], *, failed: bool, walltime: float) -> None:
    """Add one ended node execution to its block's usage row."""
    # added one event at a time, in log order: the same sums however batches are cut
    usage["runs"] += 1
    usage["failures"] += 1 if failed else 0
    usage["total_walltime_seconds"] += walltime
    usage["avg_walltime_seconds"] = usage["total_walltime_seconds"] / usage["runs"]


def refresh_graph_stats(tx: ReadModelTx, graph_id: str) -> None:
    """Recompute one graph's row of ``graph_stats`` from its top-level runs."""
    totals = tx.fetchone(
        f"SELECT MIN(user_id) AS user_id, COUNT(*) AS runs, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed, "
        "SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed, "
        "SUM(CASE WHEN status = 'TERMINATED' THEN 1 ELSE 0 END) AS terminated, "
        "AVG(duration_seconds) AS avg_duration, MAX(created_at) AS last_run_at, "
        "COALESCE(SUM(cost), 0) AS total_cost "
        f"FROM {tx.t('executions')} WHERE graph_id = :graph_id AND parent_execution_id IS NULL "
        "AND deleted_at IS NULL",
        {"graph_id": graph_id},
    )
    if not totals or not totals["runs"]:
        _zero_graph_stats(tx, graph_id)
        return
    durations = [
        r["duration_seconds"]
        for r in tx.fetchall(
            f"SELECT duration_seconds FROM {tx.t('executions')} WHERE graph_id = :graph_id "
            "AND parent_execution_id IS NULL AND deleted_at IS NULL AND duration_seconds IS NOT NULL "
            "ORDER BY duration_seconds",
            {"graph_id": graph_id},
        )
    ]
    ended = int(totals["completed"] or 0) + int(totals["failed"] or 0) + int(totals["terminated"] or 0)
    tx.upsert(
        GRAPH_STATS,
        [
            {
                "graph_id": graph_id,
                "user_id": totals["user_id"],
                "runs": int(totals["runs"]),
                "completed": int(totals["completed"] or 0),
                "failed": int(totals["failed"] or 0),
                "terminated": int(totals["terminated"] or 0),
                "success_rate": (int(totals["completed"] or 0) / ended) if ended else None,
                "avg_duration_seconds": float(totals["avg_duration"]) if totals["avg_duration"] is not None else None,
                "p95_duration_seconds": _nearest_rank(durations, 0.95),
                "last_run_at": totals["last_run_at"],
                "total_cost": float(totals["total_cost"] or 0),
            }
        ],
    )


def refresh_user_stats(tx: ReadModelTx, user_id: str) -> None:
    """Recompute one user's row of ``user_stats`` from their top-level runs."""
    totals = tx.fetchone(
        f"SELECT COUNT(*) AS runs, "
        "SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed, "
        "SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed, "
        "SUM(CASE WHEN status = 'TERMINATED' THEN 1 ELSE 0 END) AS terminated, "
        "COALESCE(SUM(node_count), 0) AS node_executions, COALESCE(SUM(node_error_count), 0) AS node_errors, "
        "COALESCE(SUM(cost), 0) AS total_cost, MAX(created_at) AS last_run_at "
        f"FROM {tx.t('executions')} WHERE user_id = :user_id AND parent_execution_id IS NULL "
        "AND deleted_at IS NULL",
        {"user_id": user_id},
    )
    if not totals or not totals["runs"]:
        _zero_user_stats(tx, user_id)
        return
    tx.upsert(
        USER_STATS,
        [
            {
                "user_id": user_id,
                "runs": int(totals["runs"]),
                "completed": int(totals["completed"] or 0),
                "failed": int(totals["failed"] or 0),
                "terminated": int(totals["terminated"] or 0),
                "node_executions": int(totals["node_executions"]),
                "node_errors": int(totals["node_errors"]),
                "total_cost": float(totals["total_cost"]),
                "last_run_at": totals["last_run_at"],
            }
        ],
    )


def _zero_graph_stats(tx: ReadModelTx, graph_id: str) -> None:
    """No top-level run of the graph left but deleted ones: its row counts nothing (no row without any run at all).

    Decided from the ``executions`` rows alone, so a rebuild (which may see a
    run's request and deletion in one batch) writes the same row as the live projection.
    """
    owner = tx.fetchone(
        f"SELECT MIN(user_id) AS user_id FROM {tx.t('executions')} "
        "WHERE graph_id = :graph_id AND parent_execution_id IS NULL",
        {"graph_id": graph_id},
    )
    if not owner or owner["user_id"] is None:
        return
    tx.upsert(
        GRAPH_STATS,
        [
            {
                "graph_id": graph_id,
                "user_id": owner["user_id"],
                "runs": 0,
                "completed": 0,
                "failed": 0,
                "terminated": 0,
                "success_rate": None,
                "avg_duration_seconds": None,
                "p95_duration_seconds": None,
                "last_run_at": None,
                "total_cost": 0.0,
            }
        ],
    )


def _zero_user_stats(tx: ReadModelTx, user_id: str) -> None:
    """No top-level run of the user left but deleted ones: their row counts nothing (see ``_zero_graph_stats``)."""
    some = tx.fetchone(
        f"SELECT COUNT(*) AS n FROM {tx.t('executions')} WHERE user_id = :user_id AND parent_execution_id IS NULL",
        {"user_id": user_id},
    )
    if not some or not some["n"]:
        return
    tx.upsert(
        USER_STATS,
        [
            {
                "user_id": user_id,
                "runs": 0,
                "completed": 0,
                "failed": 0,
                "terminated": 0,
                "node_executions": 0,
                "node_errors": 0,
                "total_cost": 0.0,
                "last_run_at": None,
            }
        ],
    )


def _nearest_rank(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))  # ceil(fraction * n)
    return float(sorted_values[min(rank, len(sorted_values)) - 1])
