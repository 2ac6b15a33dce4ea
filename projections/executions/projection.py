"""Execution events -> runs, node executions and their statistics, as one projection.

``read.executions``, ``read.node_executions``, ``read.graph_stats``,
``read.user_stats``, ``read.block_usage`` and ``read.shared_executions`` are one projection: the
statistics are computed from the execution rows in the same transaction, so
they never disagree with them. This module says which event changes which
rows; ``runs``, ``nodes`` and ``stats`` say how.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from domain.execution import RUN_ENDINGS, ExecutionStopRequest, GraphExecution
from domain.execution_status import ExecutionStatus
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.executions import nodes, runs
from projections.executions.tables import (
    BLOCK_USAGE,
    EXECUTIONS,
    GRAPH_STATS,
    NODE_EXECUTIONS,
    SHARED_EXECUTIONS,
    USER_STATS,
)
from projections.executions.unit_of_work import Row, UnitOfWork
from projections.store import ReadModelTx

S = ExecutionStatus

_STARTS = EventHandlers[Callable[[EventEnvelope, UnitOfWork], None]]({GraphExecution.Requested: runs.requested})
"""Events that create a run's row."""

_RUN_EVENTS = EventHandlers[Callable[[EventEnvelope, Row, UnitOfWork], None]](
    {
        GraphExecution.Queued: runs.queued,
        GraphExecution.Started: runs.started,
        GraphExecution.Resumed: runs.resumed,
        GraphExecution.StopRequested: runs.stop_requested,
        **{ending: partial(runs.ended, status) for ending, status in RUN_ENDINGS.items()},
        GraphExecution.NodeInputReceived: nodes.input_received,
        GraphExecution.NodeExecutionQueued: nodes.queued,
    }
)
"""Events of a run whose row exists (they also move its ``updated_at`` and ``last_position``)."""

_NODE_EVENTS = EventHandlers[Callable[[EventEnvelope, Row, Row, UnitOfWork], None]](
    {
        GraphExecution.NodeExecutionStarted: nodes.started,
        GraphExecution.NodeOutputProduced: nodes.output_produced,
        GraphExecution.NodeExecutionCompleted: partial(nodes.ended, S.COMPLETED),
        GraphExecution.NodeExecutionFailed: partial(nodes.ended, S.FAILED),
        GraphExecution.NodeExecutionTerminated: partial(nodes.ended, S.TERMINATED),
    }
)
"""Events of a node execution whose row exists (and of its run)."""

_HOUSEKEEPING = EventHandlers[Callable[[EventEnvelope, Row, UnitOfWork], None]](
    {
        GraphExecution.Deleted: runs.deleted,
        GraphExecution.Shared: runs.shared,
        GraphExecution.Unshared: runs.unshared,
    }
)
"""Events the owner records on a finished run (delete, share): they change its row, never what the run did,
so live updates (``projections.executions.live``, which follows ``RUN_EVENT_TYPES``) publish nothing for them."""

_RUN_TYPES = _STARTS.names | _RUN_EVENTS.names | _NODE_EVENTS.names

RUN_EVENT_TYPES = _RUN_TYPES
"""The names of every event type that changes a run or its node executions."""

RUN_START_TYPES = _STARTS.names
"""The names of the event types that create a run's row."""


class ExecutionsProjection(Projection):
    """Execution aggregates -> runs, node executions and their statistics."""

    name = "executions"
    contexts = frozenset({"executions"})
    tables = (EXECUTIONS, NODE_EXECUTIONS, GRAPH_STATS, USER_STATS, BLOCK_USAGE, SHARED_EXECUTIONS)
    handles = _STARTS.types | _RUN_EVENTS.types | _NODE_EVENTS.types | _HOUSEKEEPING.types
    # a stop request only asks; what it does to the run arrives as the run's own events
    ignores = frozenset({ExecutionStopRequest.Requested})

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        work = UnitOfWork(tx)
        work.prefetch(batch, _RUN_TYPES | _HOUSEKEEPING.names)
        for event in batch:
            self.apply_one(event, work)
        work.write()

    def apply_one(self, event: EventEnvelope, work: UnitOfWork) -> None:
        """Change the rows ``event`` changes (in ``work``, written by the caller)."""
        if (start := _STARTS.get(event.type)) is not None:
            start(event, work)
            return
        on_run = _RUN_EVENTS.get(event.type) or _HOUSEKEEPING.get(event.type)
        on_node = _NODE_EVENTS.get(event.type)
        if on_run is None and on_node is None:
            return
        run = work.run(event.aggregate_id)
        if run is None:
            return  # the run's first events predate this projection's start: nothing to attach to
        run["updated_at"], run["last_position"] = event.timestamp, event.position
        if on_run is not None:
            on_run(event, run, work)
        elif on_node is not None and (node := work.node(event.data["node_exec_id"])) is not None:
            on_node(event, run, node, work)
