"""The rows one batch of execution events touches: loaded once, changed in memory, written once.

A large batch so costs one write per row, not one per event, and the result
does not depend on where batches start and end.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from domain.json_codec import decode
from projections.envelope import EventEnvelope
from projections.executions import stats
from projections.executions.tables import BLOCK_USAGE, EXECUTIONS, NODE_EXECUTIONS, SHARED_EXECUTIONS
from projections.store import ReadModelTx

Row = dict[str, Any]

_RUN_JSON = tuple(column.name for column in EXECUTIONS.columns if column.kind == "json")
_NODE_JSON = tuple(column.name for column in NODE_EXECUTIONS.columns if column.kind == "json")


def _parse(row: Row, json_columns: tuple[str, ...]) -> Row:
    for column in json_columns:
        if isinstance(row.get(column), str):
            row[column] = decode(row[column])
    return row


class UnitOfWork:
    """Rows touched by one batch, and the graphs and users whose statistics they change."""

    def __init__(self, tx: ReadModelTx) -> None:
        self.tx = tx
        self.runs: dict[str, Row] = {}
        self.nodes: dict[str, Row] = {}
        self.blocks: dict[str, Row] = {}
        self.shares: dict[str, Row] = {}
        self.touched_graphs: set[str] = set()
        self.touched_users: set[str] = set()
        self._missing: set[str] = set()
        self._missing_nodes: set[str] = set()

    def prefetch(self, batch: list[EventEnvelope], run_types: Collection[str]) -> None:
        """Load every row the batch touches with a few ``IN`` queries instead of one query per row.

        ``run_types`` names the event types recorded by runs (their aggregate id is the run's id).
        """
        run_ids = {e.aggregate_id for e in batch if e.type in run_types}
        node_ids = {str(e.data["node_exec_id"]) for e in batch if "node_exec_id" in e.data}
        for row in self._select_in(EXECUTIONS.name, "execution_id", run_ids):
            self.runs[row["execution_id"]] = _parse(row, _RUN_JSON)
        self._missing |= run_ids - self.runs.keys()
        for row in self._select_in(NODE_EXECUTIONS.name, "node_exec_id", node_ids):
            self.nodes[row["node_exec_id"]] = _parse(row, _NODE_JSON)
        self._missing_nodes |= node_ids - self.nodes.keys()

    def _select_in(self, table: str, key: str, ids: set[str]) -> list[Row]:
        rows: list[Row] = []
        ordered = sorted(ids)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            params = {f"k{i}": value for i, value in enumerate(chunk)}
            placeholders = ", ".join(f":k{i}" for i in range(len(chunk)))
            rows.extend(self.tx.fetchall(f"SELECT * FROM {self.tx.t(table)} WHERE {key} IN ({placeholders})", params))
        return rows

    def add_run(self, row: Row) -> None:
        """A run requested in this batch."""
        self.runs[row["execution_id"]] = row
        self._missing.discard(row["execution_id"])
        self.stats_changed(row)

    def run(self, execution_id: str) -> Row | None:
        """The run's row, or None when its request predates this projection."""
        if execution_id not in self.runs and execution_id not in self._missing:
            row = self.tx.fetchone(
                f"SELECT * FROM {self.tx.t(EXECUTIONS.name)} WHERE execution_id = :id", {"id": execution_id}
            )
            if row is None:
                self._missing.add(execution_id)
                return None
            self.runs[execution_id] = _parse(dict(row), _RUN_JSON)
        return self.runs.get(execution_id)

    def add_node(self, row: Row) -> None:
        """A node execution first seen in this batch."""
        self.nodes[row["node_exec_id"]] = row
        self._missing_nodes.discard(row["node_exec_id"])

    def node(self, node_exec_id: str) -> Row | None:
        """The node execution's row, or None when there is none yet."""
        if node_exec_id not in self.nodes:
            if node_exec_id in self._missing_nodes:
                return None
            row = self.tx.fetchone(
                f"SELECT * FROM {self.tx.t(NODE_EXECUTIONS.name)} WHERE node_exec_id = :id", {"id": node_exec_id}
            )
            if row is None:
                return None
            self.nodes[node_exec_id] = _parse(dict(row), _NODE_JSON)
        return self.nodes[node_exec_id]

    def block(self, block_id: str) -> Row:
        """The block's usage row (a fresh one for a block never seen)."""
        usage = self.blocks.get(block_id)
        if usage is None:
            row = self.tx.fetchone(
                f"SELECT * FROM {self.tx.t(BLOCK_USAGE.name)} WHERE block_id = :id", {"id": block_id}
            )
            usage = dict(row) if row else stats.new_block_usage(block_id)
            self.blocks[block_id] = usage
        return usage

    def share(self, row: Row) -> None:
        """A share link's row as it now stands (``read.shared_executions``), written with the batch."""
        self.shares[row["share_token"]] = row

    def stats_changed(self, run: Row) -> None:
        """The run's graph and user statistics are recomputed when the batch is written."""
        self.touched_graphs.add(run["graph_id"])
        self.touched_users.add(run["user_id"])

    def write(self) -> None:
        """Write every touched row, then the statistics of the touched graphs and users."""
        tx = self.tx
        tx.upsert(EXECUTIONS, list(self.runs.values()))
        tx.upsert(NODE_EXECUTIONS, list(self.nodes.values()))
        tx.upsert(BLOCK_USAGE, list(self.blocks.values()))
        tx.upsert(SHARED_EXECUTIONS, list(self.shares.values()))
        for graph_id in sorted(self.touched_graphs):
            stats.refresh_graph_stats(tx, graph_id)
        for user_id in sorted(self.touched_users):
            stats.refresh_user_stats(tx, user_id)
