"""The executions read models and the statistics derived from them.

``read.executions``, ``read.node_executions``, ``read.graph_stats``,
``read.user_stats`` and ``read.block_usage`` are one projection: the
statistics are computed from the execution rows in the same transaction, so
they never disagree with them.

Within a batch, rows are loaded once, changed in memory event by event (in
log order) and written once at the end (a unit of work), so a large batch
costs one write per row, not one per event, and the result does not depend
on where batches start and end.
"""

from __future__ import annotations

import json
from typing import Any

from projections.base import Column, Projection, Table
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

EXECUTIONS = Table(
    name="executions",
    comment="One row per graph execution (run), sub-agent runs included.",
    columns=(
        Column("execution_id", "text", "Execution id (UUID)."),
        Column("graph_id", "text", "Graph run."),
        Column("graph_version", "int", "Version the run is pinned to."),
        Column("user_id", "text", "Who started the run."),
        Column("parent_execution_id", "text", "The parent run when this is a sub-agent run."),
        Column("status", "text", "INCOMPLETE, QUEUED, RUNNING, COMPLETED, TERMINATED or FAILED."),
        Column("inputs", "json", "Graph inputs by input name."),
        Column("outputs", "json", "Graph outputs by output name: {name: [values]}."),
        Column("stats", "json", "AutoGPT's run stats (cost, duration, node_exec_count, ...)."),
        Column("error", "text", "Graph-level error of a FAILED run."),
        Column("executor_id", "text", "Executor that ran (or last resumed) the run."),
        Column("created_at", "timestamp", "When the run was requested."),
        Column("started_at", "timestamp", "When an executor started it."),
        Column("ended_at", "timestamp", "When it completed, failed or was terminated."),
        Column("duration_seconds", "float", "Wall time from start to end."),
        Column("cost", "float", "Credits charged."),
        Column("node_count", "int", "Node executions that ran."),
        Column("node_error_count", "int", "Node executions that failed."),
        Column("updated_at", "timestamp", "Time of the last event applied."),
        Column("last_position", "int", "Position in the executions log of the last event applied."),
    ),
    primary_key=("execution_id",),
    indexes=(("user_id", "created_at"), ("graph_id", "created_at")),
)

NODE_EXECUTIONS = Table(
    name="node_executions",
    comment="One row per node execution inside a run.",
    columns=(
        Column("node_exec_id", "text", "Node execution id (UUID)."),
        Column("execution_id", "text", "The run it belongs to."),
        Column("node_id", "text", "Node of the graph version."),
        Column("block_id", "text", "Block the node runs."),
        Column("status", "text", "INCOMPLETE, QUEUED, RUNNING, COMPLETED, TERMINATED or FAILED."),
        Column("input_data", "json", "Inputs by pin."),
        Column("output_data", "json", "Outputs by pin: {pin: [values]}."),
        Column("error", "text", "Error message of a failed or terminated node execution."),
        Column("add_time", "timestamp", "When it was created (first input)."),
        Column("queue_time", "timestamp", "When it had every input and was queued."),
        Column("start_time", "timestamp", "When its block started."),
        Column("end_time", "timestamp", "When it ended."),
        Column("walltime_seconds", "float", "Block wall time."),
        Column("stats", "json", "Node stats (walltime, cputime, input/output sizes, LLM tokens ...)."),
    ),
    primary_key=("node_exec_id",),
    indexes=(("execution_id",), ("block_id",)),
)

GRAPH_STATS = Table(
    name="graph_stats",
    comment="Per graph: how its runs went.",
    columns=(
        Column("graph_id", "text", "Graph id."),
        Column("user_id", "text", "Owner."),
        Column("runs", "int", "Top-level runs requested."),
        Column("completed", "int", "Runs that completed."),
        Column("failed", "int", "Runs that failed."),
        Column("terminated", "int", "Runs that were stopped."),
        Column("success_rate", "float", "completed / ended runs (NULL before any run ended)."),
        Column("avg_duration_seconds", "float", "Mean duration of ended runs."),
        Column("p95_duration_seconds", "float", "95th percentile duration of ended runs (nearest rank)."),
        Column("last_run_at", "timestamp", "When the latest run was requested."),
        Column("total_cost", "float", "Credits charged over all runs."),
    ),
    primary_key=("graph_id",),
)

USER_STATS = Table(
    name="user_stats",
    comment="Per user: runs and node executions.",
    columns=(
        Column("user_id", "text", "User id."),
        Column("runs", "int", "Top-level runs requested."),
        Column("completed", "int", "Runs that completed."),
        Column("failed", "int", "Runs that failed."),
        Column("terminated", "int", "Runs that were stopped."),
        Column("node_executions", "int", "Node executions that ran, over all runs."),
        Column("node_errors", "int", "Node executions that failed, over all runs."),
        Column("total_cost", "float", "Credits charged."),
        Column("last_run_at", "timestamp", "When the latest run was requested."),
    ),
    primary_key=("user_id",),
)

BLOCK_USAGE = Table(
    name="block_usage",
    comment="Per block: how often it ran, failed, and how long it took.",
    columns=(
        Column("block_id", "text", "Block id (AutoGPT's UUID)."),
        Column("runs", "int", "Node executions that ended (completed or failed)."),
        Column("failures", "int", "Node executions that failed."),
        Column("total_walltime_seconds", "float", "Sum of their wall times."),
        Column("avg_walltime_seconds", "float", "Mean wall time."),
    ),
    primary_key=("block_id",),
)

_END_STATUS = {
    "GraphExecution.Completed": "COMPLETED",
    "GraphExecution.Failed": "FAILED",
    "GraphExecution.Terminated": "TERMINATED",
}
_NODE_END = {
    "GraphExecution.NodeExecutionCompleted": "COMPLETED",
    "GraphExecution.NodeExecutionFailed": "FAILED",
    "GraphExecution.NodeExecutionTerminated": "TERMINATED",
}
_RUN_JSON = ("inputs", "outputs", "stats")
_NODE_JSON = ("input_data", "output_data", "stats")


def _parse(row: dict[str, Any], json_columns: tuple[str, ...]) -> dict[str, Any]:
    for column in json_columns:
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return row


class ExecutionsProjection(Projection):
    """Execution aggregates -> runs, node executions and their statistics."""

    name = "executions"
    contexts = frozenset({"executions"})
    tables = (EXECUTIONS, NODE_EXECUTIONS, GRAPH_STATS, USER_STATS, BLOCK_USAGE)

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        work = _UnitOfWork(tx)
        work.prefetch(batch)
        for event in batch:
            self._apply_one(event, work)
        work.write()

    def _apply_one(self, event: EventEnvelope, work: _UnitOfWork) -> None:
        kind, data, at = event.type, event.data, event.timestamp
        if not kind.startswith("GraphExecution."):
            return
        if kind == "GraphExecution.Requested":
            work.runs[event.aggregate_id] = {
                "execution_id": event.aggregate_id,
                "graph_id": data["graph_id"],
                "graph_version": data["graph_version"],
                "user_id": data["user_id"],
                "parent_execution_id": data.get("parent_execution_id"),
                "status": "INCOMPLETE",
                "inputs": data.get("inputs", {}),
                "outputs": {},
                "stats": {},
                "error": None,
                "executor_id": None,
                "created_at": at,
                "started_at": None,
                "ended_at": None,
                "duration_seconds": None,
                "cost": 0.0,
                "node_count": 0,
                "node_error_count": 0,
                "updated_at": at,
                "last_position": event.position,
            }
            work.touched_graphs.add(data["graph_id"])
            work.touched_users.add(data["user_id"])
            return
        run = work.run(event.aggregate_id)
        if run is None:
            return  # the run's first events predate this projection's start: nothing to attach to
        run["updated_at"], run["last_position"] = at, event.position
        if kind == "GraphExecution.Queued":
            run["status"] = "QUEUED"
        elif kind == "GraphExecution.Started":
            run.update(status="RUNNING", started_at=at, executor_id=data["executor_id"])
        elif kind == "GraphExecution.Resumed":
            run["executor_id"] = data["executor_id"]
        elif kind in _END_STATUS:
            stats = data.get("stats") or {}
            run.update(
                status=_END_STATUS[kind],
                ended_at=at,
                stats=stats,
                error=data.get("error"),
                duration_seconds=stats.get("duration"),
                cost=float(stats.get("cost") or 0),
                node_count=int(stats.get("node_exec_count") or 0),
                node_error_count=int(stats.get("node_error_count") or 0),
            )
            work.touched_graphs.add(run["graph_id"])
            work.touched_users.add(run["user_id"])
        elif kind.startswith("GraphExecution.Node"):
            self._apply_node(event, run, work)

    def _apply_node(self, event: EventEnvelope, run: dict[str, Any], work: _UnitOfWork) -> None:
        kind, data, at = event.type, event.data, event.timestamp
        node_exec_id = data["node_exec_id"]
        if kind in ("GraphExecution.NodeInputReceived", "GraphExecution.NodeExecutionQueued"):
            node = work.node(node_exec_id) or work.new_node(
                node_exec_id, event.aggregate_id, data["node_id"], data["block_id"], at
            )
            if kind == "GraphExecution.NodeInputReceived":
                node["input_data"] = {**node["input_data"], data["pin"]: data["value"]}
            else:
                node.update(status="QUEUED", input_data=data["input_data"], queue_time=at, error=None)
            return
        existing = work.node(node_exec_id)
        if existing is None:
            return
        node = existing
        if kind == "GraphExecution.NodeExecutionStarted":
            node.update(status="RUNNING", start_time=at)
        elif kind == "GraphExecution.NodeOutputProduced":
            outputs = dict(node["output_data"])
            outputs[data["pin"]] = [*outputs.get(data["pin"], []), data["value"]]
            node["output_data"] = outputs
            name = data.get("graph_output_name")
            if name is not None:
                run_outputs = dict(run["outputs"])
                run_outputs[name] = [*run_outputs.get(name, []), data["value"]]
                run["outputs"] = run_outputs
        elif kind in _NODE_END:
            status = _NODE_END[kind]
            stats = data.get("stats") or {}
            node.update(status=status, end_time=at, error=data.get("error") or data.get("reason"))
            if status != "TERMINATED":
                node["stats"] = stats
                node["walltime_seconds"] = stats.get("walltime")
                work.block_ran(node["block_id"], failed=status == "FAILED", walltime=float(stats.get("walltime") or 0))


class _UnitOfWork:
    """Rows touched by one batch: loaded once, written once."""

    def __init__(self, tx: ReadModelTx) -> None:
        self.tx = tx
        self.runs: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, dict[str, Any]] = {}
        self.touched_graphs: set[str] = set()
        self.touched_users: set[str] = set()
        self._missing: set[str] = set()
        self._missing_nodes: set[str] = set()

    def prefetch(self, batch: list[EventEnvelope]) -> None:
        """Load every row the batch touches with a few ``IN`` queries instead of one query per row."""
        run_ids = {e.aggregate_id for e in batch if e.type.startswith("GraphExecution.")}
        node_ids = {str(e.data["node_exec_id"]) for e in batch if "node_exec_id" in e.data}
        for row in self._select_in("executions", "execution_id", run_ids):
            self.runs[row["execution_id"]] = _parse(row, _RUN_JSON)
        self._missing |= run_ids - self.runs.keys()
        for row in self._select_in("node_executions", "node_exec_id", node_ids):
            self.nodes[row["node_exec_id"]] = _parse(row, _NODE_JSON)
        self._missing_nodes |= node_ids - self.nodes.keys()

    def _select_in(self, table: str, key: str, ids: set[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            params = {f"k{i}": value for i, value in enumerate(chunk)}
            placeholders = ", ".join(f":k{i}" for i in range(len(chunk)))
            rows.extend(self.tx.fetchall(f"SELECT * FROM {self.tx.t(table)} WHERE {key} IN ({placeholders})", params))
        return rows

    def run(self, execution_id: str) -> dict[str, Any] | None:
        if execution_id not in self.runs and execution_id not in self._missing:
            row = self.tx.fetchone(
                f"SELECT * FROM {self.tx.t('executions')} WHERE execution_id = :id", {"id": execution_id}
            )
            if row is None:
                self._missing.add(execution_id)
                return None
            self.runs[execution_id] = _parse(dict(row), _RUN_JSON)
        return self.runs.get(execution_id)

    def node(self, node_exec_id: str) -> dict[str, Any] | None:
        if node_exec_id not in self.nodes:
            if node_exec_id in self._missing_nodes:
                return None
            row = self.tx.fetchone(
                f"SELECT * FROM {self.tx.t('node_executions')} WHERE node_exec_id = :id", {"id": node_exec_id}
            )
            if row is None:
                return None
            self.nodes[node_exec_id] = _parse(dict(row), _NODE_JSON)
        return self.nodes[node_exec_id]

    def new_node(self, node_exec_id: str, execution_id: str, node_id: str, block_id: str, at: str) -> dict[str, Any]:
        node: dict[str, Any] = {
            "node_exec_id": node_exec_id,
            "execution_id": execution_id,
            "node_id": node_id,
            "block_id": block_id,
            "status": "INCOMPLETE",
            "input_data": {},
            "output_data": {},
            "error": None,
            "add_time": at,
            "queue_time": None,
            "start_time": None,
            "end_time": None,
            "walltime_seconds": None,
            "stats": {},
        }
        self.nodes[node_exec_id] = node
        self._missing_nodes.discard(node_exec_id)
        return node

    def block_ran(self, block_id: str, *, failed: bool, walltime: float) -> None:
        usage = self.blocks.get(block_id)
        if usage is None:
            row = self.tx.fetchone(f"SELECT * FROM {self.tx.t('block_usage')} WHERE block_id = :id", {"id": block_id})
            usage = (
                dict(row)
                if row
                else {
                    "block_id": block_id,
                    "runs": 0,
                    "failures": 0,
                    "total_walltime_seconds": 0.0,
                    "avg_walltime_seconds": None,
                }
            )
            self.blocks[block_id] = usage
        # added one event at a time, in log order: the same sums however batches are cut
        usage["runs"] += 1
        usage["failures"] += 1 if failed else 0
        usage["total_walltime_seconds"] += walltime
        usage["avg_walltime_seconds"] = usage["total_walltime_seconds"] / usage["runs"]

    def write(self) -> None:
        tx = self.tx
        tx.upsert(EXECUTIONS, list(self.runs.values()))
        tx.upsert(NODE_EXECUTIONS, list(self.nodes.values()))
        tx.upsert(BLOCK_USAGE, list(self.blocks.values()))
        for graph_id in sorted(self.touched_graphs):
            self._graph_stats(graph_id)
        for user_id in sorted(self.touched_users):
            self._user_stats(user_id)

    def _graph_stats(self, graph_id: str) -> None:
        tx = self.tx
        totals = tx.fetchone(
            f"SELECT MIN(user_id) AS user_id, COUNT(*) AS runs, "
            "SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed, "
            "SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed, "
            "SUM(CASE WHEN status = 'TERMINATED' THEN 1 ELSE 0 END) AS terminated, "
            "AVG(duration_seconds) AS avg_duration, MAX(created_at) AS last_run_at, "
            "COALESCE(SUM(cost), 0) AS total_cost "
            f"FROM {tx.t('executions')} WHERE graph_id = :graph_id AND parent_execution_id IS NULL",
            {"graph_id": graph_id},
        )
        if not totals or not totals["runs"]:
            return
        durations = [
            r["duration_seconds"]
            for r in tx.fetchall(
                f"SELECT duration_seconds FROM {tx.t('executions')} WHERE graph_id = :graph_id "
                "AND parent_execution_id IS NULL AND duration_seconds IS NOT NULL ORDER BY duration_seconds",
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
                    "avg_duration_seconds": float(totals["avg_duration"])
                    if totals["avg_duration"] is not None
                    else None,
                    "p95_duration_seconds": _nearest_rank(durations, 0.95),
                    "last_run_at": totals["last_run_at"],
                    "total_cost": float(totals["total_cost"] or 0),
                }
            ],
        )

    def _user_stats(self, user_id: str) -> None:
        tx = self.tx
        totals = tx.fetchone(
            f"SELECT COUNT(*) AS runs, "
            "SUM(CASE WHEN status = 'COMPLETED' THEN 1 ELSE 0 END) AS completed, "
            "SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END) AS failed, "
            "SUM(CASE WHEN status = 'TERMINATED' THEN 1 ELSE 0 END) AS terminated, "
            "COALESCE(SUM(node_count), 0) AS node_executions, COALESCE(SUM(node_error_count), 0) AS node_errors, "
            "COALESCE(SUM(cost), 0) AS total_cost, MAX(created_at) AS last_run_at "
            f"FROM {tx.t('executions')} WHERE user_id = :user_id AND parent_execution_id IS NULL",
            {"user_id": user_id},
        )
        if not totals or not totals["runs"]:
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


def _nearest_rank(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(sorted_values) // 1000))  # ceil(fraction * n)
    return float(sorted_values[min(rank, len(sorted_values)) - 1])
