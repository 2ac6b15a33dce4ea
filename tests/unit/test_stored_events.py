"""Streams already in an event store keep loading, whatever the code and the rules become.

The events below are written straight into a real (embedded) event store in
the form earlier releases stored them: these topics and this plain JSON.
Their topics are spelled out on purpose: existing databases hold exactly
these strings, so a renamed event class or attribute must fail here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from adapters.persistence import sqlite_env
from domain.execution import ExecutionStopRequest, GraphExecution
from domain.execution_status import ExecutionStatus, IllegalTransitionError
from domain.graph import Graph

S = ExecutionStatus
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def _store(app: Application[UUID], aggregate_id: UUID, events: list[tuple[str, dict[str, Any]]]) -> None:
    """Record ``(topic, state)`` pairs as versions 1, 2, ... of ``aggregate_id``, one second apart."""
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=aggregate_id,
                originator_version=version,
                topic=topic,
                state=json.dumps({"timestamp": _at(version).isoformat(), **state}).encode(),
            )
            for version, (topic, state) in enumerate(events, start=1)
        ]
    )


def _requested(execution_id: UUID) -> tuple[str, dict[str, Any]]:
    return (
        "domain.execution:GraphExecution.Requested",
        {
            "originator_topic": "domain.execution:GraphExecution",
            "graph_id": "g1",
            "graph_version": 2,
            "user_id": "alice",
            "inputs": {"x": 1},
            "credentials_inputs": {},
            "nodes_input_masks": {},
            "parent_execution_id": None,
            "parent_node_exec_id": None,
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Application[UUID]:
    """An event store configured as the platform configures its embedded ones (plain-JSON events in SQLite)."""
    return Application[UUID](sqlite_env(tmp_path, "events"))


def _run(store: Application[UUID], run_id: UUID) -> GraphExecution:
    run = store.repository.get(run_id)
    assert isinstance(run, GraphExecution)
    return run


def test_a_run_stored_by_earlier_releases_loads_with_every_fact(store: Application[UUID]) -> None:
    run_id = uuid4()
    node = {"node_exec_id": "ne1", "node_id": "calc", "block_id": "b1"}
    _store(
        store,
        run_id,
        [
            _requested(run_id),
            ("domain.execution:GraphExecution.Queued", {}),
            ("domain.execution:GraphExecution.Started", {"executor_id": "host-1"}),
            ("domain.execution:GraphExecution.Resumed", {"executor_id": "host-2", "previous_executor_id": "host-1"}),
            ("domain.execution:GraphExecution.NodeInputReceived", {**node, "pin": "a", "value": 1}),
            ("domain.execution:GraphExecution.NodeExecutionQueued", {**node, "input_data": {"a": 1, "b": 2}}),
            ("domain.execution:GraphExecution.NodeExecutionStarted", {"node_exec_id": "ne1"}),
            (
                "domain.execution:GraphExecution.NodeOutputProduced",
                {"node_exec_id": "ne1", "pin": "result", "value": 3, "graph_output_name": "sum"},
            ),
            (
                "domain.execution:GraphExecution.NodeExecutionCompleted",
                {"node_exec_id": "ne1", "stats": {"walltime": 0.5}},
            ),
            ("domain.execution:GraphExecution.NodeExecutionQueued", {**node, "node_exec_id": "ne2", "input_data": {}}),
            ("domain.execution:GraphExecution.NodeExecutionStarted", {"node_exec_id": "ne2"}),
            (
                "domain.execution:GraphExecution.NodeExecutionFailed",
                {"node_exec_id": "ne2", "error": "boom", "stats": {}},
            ),
            ("domain.execution:GraphExecution.NodeExecutionQueued", {**node, "node_exec_id": "ne3", "input_data": {}}),
            ("domain.execution:GraphExecution.StopRequested", {"requested_by": "alice"}),
            ("domain.execution:GraphExecution.NodeExecutionTerminated", {"node_exec_id": "ne3", "reason": "stopped"}),
            ("domain.execution:GraphExecution.Terminated", {"stats": {"cost": 4}}),
        ],
    )

    run = _run(store, run_id)

    assert (run.user_id, run.graph_id, run.graph_version, run.inputs) == ("alice", "g1", 2, {"x": 1})
    assert (run.status, run.executor_id, run.stop_requested) == (S.TERMINATED, "host-2", True)
    assert (run.started_at, run.ended_at, run.stats) == (_at(3), _at(16), {"cost": 4})
    assert dict(run.outputs) == {"sum": [3]}
    ne1, ne2, ne3 = (run.node_executions[i] for i in ("ne1", "ne2", "ne3"))
    assert (ne1.status, ne1.input_data, ne1.output_data, ne1.stats) == (
        S.COMPLETED,
        {"a": 1, "b": 2},
        {"result": [3]},
        {"walltime": 0.5},
    )
    assert ne1.add_time == _at(5)
    assert (ne2.status, ne2.error) == (S.FAILED, "boom")
    assert (ne3.status, ne3.error) == (S.TERMINATED, "stopped")
    assert not run.active


def test_a_stream_that_todays_rules_refuse_still_loads(store: Application[UUID]) -> None:
    """Applying an event never checks a rule: a tightened rule cannot make a recorded run unreadable."""
    run_id = uuid4()
    node = {"node_exec_id": "ne1", "node_id": "calc", "block_id": "b1", "input_data": {}}
    _store(
        store,
        run_id,
        [
            _requested(run_id),
            ("domain.execution:GraphExecution.Queued", {}),
            ("domain.execution:GraphExecution.NodeExecutionQueued", node),
            # QUEUED -> COMPLETED without running, for the node and for the run
            ("domain.execution:GraphExecution.NodeExecutionCompleted", {"node_exec_id": "ne1", "stats": {}}),
            ("domain.execution:GraphExecution.Completed", {"stats": {}}),
        ],
    )
    today = GraphExecution.request(graph_id="g1", graph_version=2, user_id="alice", inputs={})
    today.queue_node("ne1", "calc", "b1", {})
    with pytest.raises(IllegalTransitionError):
        today.complete_node("ne1", {})
    with pytest.raises(IllegalTransitionError):
        today.complete({})

    run = _run(store, run_id)

    assert run.status == S.COMPLETED
    assert run.node_executions["ne1"].status == S.COMPLETED


def test_a_stop_request_stored_by_earlier_releases_loads(store: Application[UUID]) -> None:
    run_id = uuid4()
    request_id = ExecutionStopRequest.id_for(run_id)
    _store(
        store,
        request_id,
        [
            (
                "domain.execution:ExecutionStopRequest.Requested",
                {
                    "originator_topic": "domain.execution:ExecutionStopRequest",
                    "execution_id": str(run_id),
                    "requested_by": "alice",
                },
            )
        ],
    )

    request = store.repository.get(request_id)

    assert isinstance(request, ExecutionStopRequest)
    assert (request.execution_id, request.requested_by) == (str(run_id), "alice")


def test_a_graph_stored_by_earlier_releases_loads(store: Application[UUID]) -> None:
    graph_id = uuid4()
    content = {"name": "adder", "description": "", "nodes": [], "links": []}
    _store(
        store,
        graph_id,
        [
            (
                "domain.graph:Graph.Created",
                {"originator_topic": "domain.graph:Graph", "user_id": "alice", "content": content},
            ),
            (
                "domain.graph:Graph.VersionCreated",
                {"version": 2, "content": {**content, "name": "adder 2"}, "activate": True, "created_at": "2025-03-02"},
            ),
            ("domain.graph:Graph.ActiveVersionChanged", {"version": 1}),
            ("domain.graph:Graph.Deleted", {}),
        ],
    )

    graph = store.repository.get(graph_id)

    assert isinstance(graph, Graph)
    assert (graph.user_id, graph.latest_version, graph.active_version, graph.is_deleted) == ("alice", 2, 1, True)
    assert graph.content(2).name == "adder 2"
