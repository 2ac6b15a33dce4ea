"""The audit log: who did what to which resource, when, from which event."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from domain.execution import RUN_ENDINGS, ExecutionStopRequest, GraphExecution
from domain.graph import Graph
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.schema import Column, Table
from projections.store import ReadModelTx

AUDIT_LOG = Table(
    name="audit_log",
    comment="One row per user-level action (graph changes, runs requested, stopped, ended, deleted, shared and "
    "unshared).",
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


class _GraphOwners:
    """Who changed a graph: its owner, known from its creation (in this batch or an earlier one)."""

    def __init__(self, tx: ReadModelTx) -> None:
        self._tx = tx
        self._created: dict[str, str] = {}  # graphs created in this batch (their rows are not written yet)

    def actor(self, event: EventEnvelope) -> str:
        # graphs are only ever changed by their owner, who created them
        graph_id = event.aggregate_id
        actor = event.data.get("user_id") or self._created.get(graph_id) or self._creator(graph_id)
        self._created.setdefault(graph_id, actor)
        return str(actor)

    def _creator(self, graph_id: str) -> str:
        row = self._tx.fetchone(
            f"SELECT actor FROM {self._tx.t('audit_log')} WHERE resource_id = :id AND action = 'graph.created'",
            {"id": graph_id},
        )
        return str(row["actor"]) if row else "unknown"


Row = dict[str, Any]
Handler = Callable[[EventEnvelope, _GraphOwners], Row]


def _row(event: EventEnvelope, actor: str, action: str, resource_type: str, resource_id: str, details: Row) -> Row:
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


def _graph_changed(action: str, event: EventEnvelope, owners: _GraphOwners) -> Row:
    details: Row = {k: event.data[k] for k in ("version", "activate") if k in event.data}
    return _row(event, owners.actor(event), action, "graph", event.aggregate_id, details)


def _run_requested(event: EventEnvelope, owners: _GraphOwners) -> Row:
    data = event.data
    details = {
        "graph_id": data["graph_id"],
        "graph_version": data["graph_version"],
        "parent_execution_id": data.get("parent_execution_id"),
    }
    return _row(event, data["user_id"], "execution.requested", "execution", event.aggregate_id, details)


def _stop_requested(event: EventEnvelope, owners: _GraphOwners) -> Row:
    data = event.data
    return _row(event, data["requested_by"], "execution.stop_requested", "execution", data["execution_id"], {})


def _run_housekeeping(action: str, event: EventEnvelope, owners: _GraphOwners) -> Row:
    # the share token stays out of the audit log: the log tells who shared, the token is the link itself
    return _row(event, event.data["requested_by"], action, "execution", event.aggregate_id, {})


def _run_ended(action: str, event: EventEnvelope, owners: _GraphOwners) -> Row:
    details: Row = {"error": event.data["error"]} if event.data.get("error") else {}
    return _row(event, "system", action, "execution", event.aggregate_id, details)


_HANDLERS = EventHandlers[Handler](
    {
        Graph.Created: partial(_graph_changed, "graph.created"),
        Graph.VersionCreated: partial(_graph_changed, "graph.version_created"),
        Graph.ActiveVersionChanged: partial(_graph_changed, "graph.active_version_changed"),
        Graph.Deleted: partial(_graph_changed, "graph.deleted"),
        GraphExecution.Requested: _run_requested,
        ExecutionStopRequest.Requested: _stop_requested,
        **{ending: partial(_run_ended, f"execution.{status.lower()}") for ending, status in RUN_ENDINGS.items()},
        GraphExecution.Deleted: partial(_run_housekeeping, "execution.deleted"),
        GraphExecution.Shared: partial(_run_housekeeping, "execution.shared"),
        GraphExecution.Unshared: partial(_run_housekeeping, "execution.unshared"),
    }
)


class AuditProjection(Projection):
    """Graph and execution events -> ``audit_log``."""

    name = "audit"
    contexts = frozenset({"graphs", "executions"})
    tables = (AUDIT_LOG,)
    handles = _HANDLERS.types
    # what executors do inside a run is not a user-level action; the stop a user asked for is
    # audited from the request itself (ExecutionStopRequest.Requested)
    ignores = frozenset(
        {
            GraphExecution.Queued,
            GraphExecution.Started,
            GraphExecution.Resumed,
            GraphExecution.StopRequested,
            GraphExecution.NodeInputReceived,
            GraphExecution.NodeExecutionQueued,
            GraphExecution.NodeExecutionStarted,
            GraphExecution.NodeOutputProduced,
            GraphExecution.NodeExecutionCompleted,
            GraphExecution.NodeExecutionFailed,
            GraphExecution.NodeExecutionTerminated,
        }
    )

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        owners = _GraphOwners(tx)
        rows = [handler(event, owners) for event in batch if (handler := _HANDLERS.get(event.type)) is not None]
        tx.upsert(AUDIT_LOG, rows, replace=False)  # a replayed event keeps its row
