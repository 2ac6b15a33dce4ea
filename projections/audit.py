"""The audit log: who did what to which resource, when, from which event."""

from __future__ import annotations

from typing import Any

from projections.base import Column, Projection, Table
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

AUDIT_LOG = Table(
    name="audit_log",
    comment="One row per user-level action (graph changes, runs requested, stopped and ended).",
    columns=(
        Column("event_id", "text", "Id of the event the row comes from (stable across replays)."),
        Column("at", "timestamp", "When it happened."),
        Column("actor", "text", "Who did it: a user id, or 'system' for the platform."),
        Column("action", "text", "What happened, e.g. graph.created, execution.requested."),
        Column("resource_type", "text", "graph or execution."),
        Column("resource_id", "text", "Id of the graph or execution."),
        Column("context", "text", "Bounded context whose log holds the event."),
        Column("position", "int", "Position of the event in that log."),
        Column("details", "json", "Facts of the action (version numbers, graph of a run, final status ...)."),
    ),
    primary_key=("event_id",),
    indexes=(("resource_id",), ("actor", "at")),
)

_GRAPH_ACTIONS = {
    "Graph.Created": "graph.created",
    "Graph.VersionCreated": "graph.version_created",
    "Graph.ActiveVersionChanged": "graph.active_version_changed",
    "Graph.Deleted": "graph.deleted",
}
_RUN_END = {
    "GraphExecution.Completed": "execution.completed",
    "GraphExecution.Failed": "execution.failed",
    "GraphExecution.Terminated": "execution.terminated",
}


class AuditProjection(Projection):
    """Graph and execution events -> ``audit_log``."""

    name = "audit"
    contexts = frozenset({"graphs", "executions"})
    tables = (AUDIT_LOG,)

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        creators: dict[str, str] = {}  # graphs created in this batch (their rows are not written yet)
        rows = [row for event in batch if (row := self._row(event, tx, creators)) is not None]
        tx.upsert(AUDIT_LOG, rows, replace=False)  # a replayed event keeps its row

    def _row(self, event: EventEnvelope, tx: ReadModelTx, creators: dict[str, str]) -> dict[str, Any] | None:
        data = event.data
        details: dict[str, Any]
        if event.type in _GRAPH_ACTIONS:
            resource_type, resource_id = "graph", event.aggregate_id
            # graphs are only ever changed by their owner, who created them
            actor = data.get("user_id") or creators.get(event.aggregate_id) or self._creator(tx, event.aggregate_id)
            if event.type == "Graph.Created":
                creators[event.aggregate_id] = actor
            details = {k: data[k] for k in ("version", "activate") if k in data}
            action = _GRAPH_ACTIONS[event.type]
        elif event.type == "GraphExecution.Requested":
            resource_type, resource_id, actor = "execution", event.aggregate_id, data["user_id"]
            action = "execution.requested"
            details = {
                "graph_id": data["graph_id"],
                "graph_version": data["graph_version"],
                "parent_execution_id": data.get("parent_execution_id"),
            }
        elif event.type == "ExecutionStopRequest.Requested":
            resource_type, resource_id, actor = "execution", data["execution_id"], data["requested_by"]
            action, details = "execution.stop_requested", {}
        elif event.type in _RUN_END:
            resource_type, resource_id, actor = "execution", event.aggregate_id, "system"
            action = _RUN_END[event.type]
            details = {"error": data["error"]} if data.get("error") else {}
        else:
            return None
        return {
            "event_id": event.id,
            "at": event.timestamp,
            "actor": actor,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "context": event.context,
            "position": event.position,
            "details": details,
        }

    def _creator(self, tx: ReadModelTx, graph_id: str) -> str:
        row = tx.fetchone(
            f"SELECT actor FROM {tx.t('audit_log')} WHERE resource_id = :id AND action = 'graph.created'",
            {"id": graph_id},
        )
        return str(row["actor"]) if row else "unknown"
