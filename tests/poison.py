"""Poison events, written straight into an event store (bypassing the API and its limits).

Such events may already sit in stores from before the edge limits, or come
from a bug: a projection must park them and move on, never stop at them.
"""

from __future__ import annotations

import json
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.execution import ExecutionStopRequest, GraphExecution
from domain.graph import Graph

AT = "2026-01-01T00:00:00+00:00"
DEPTH = 5000
"""Nesting no JSON decoder accepts (each has a depth limit well below it), so the event never decodes."""


def graph_version_without_content(graphs: Application[UUID], graph_id: UUID, version: int) -> None:
    """Record version ``version`` of a graph without its ``content``: the graphs projection cannot apply it."""
    state = {"version": version, "activate": True, "created_at": AT, "timestamp": AT}
    graphs.recorder.insert_events(
        [StoredEvent(graph_id, version, get_topic(Graph.VersionCreated), json.dumps(state).encode())]
    )


def run_nested_too_deep(executions: Application[UUID], user_id: str, graph_id: str) -> UUID:
    """Record a queued run whose inputs nest ``DEPTH`` levels: its first event does not decode; the run's id."""
    requested = {
        "originator_topic": get_topic(GraphExecution),
        "graph_id": graph_id,
        "graph_version": 1,
        "user_id": user_id,
        "inputs": {"Input": "DEEP"},
        "credentials_inputs": {},
        "nodes_input_masks": {},
        "parent_execution_id": None,
        "parent_node_exec_id": None,
        "timestamp": AT,
    }
    deep = json.dumps(requested).replace('"DEEP"', "[" * DEPTH + "]" * DEPTH).encode()
    run_id = uuid4()
    executions.recorder.insert_events(
        [
            StoredEvent(run_id, 1, get_topic(GraphExecution.Requested), deep),
            StoredEvent(run_id, 2, get_topic(GraphExecution.Queued), json.dumps({"timestamp": AT}).encode()),
        ]
    )
    return run_id


def stop_request_without_run(executions: Application[UUID]) -> UUID:
    """Record a stop request that names no run: a feed cannot act on it; its id."""
    state = {"originator_topic": get_topic(ExecutionStopRequest), "requested_by": "mallory", "timestamp": AT}
    request_id = uuid4()
    executions.recorder.insert_events(
        [StoredEvent(request_id, 1, get_topic(ExecutionStopRequest.Requested), json.dumps(state).encode())]
    )
    return request_id
