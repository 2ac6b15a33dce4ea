"""The GraphExecution aggregate: one run of one graph version, with its node executions.

Every fact of a run is an event: the request, queueing, the executor taking
(or taking over) the run, each node execution being queued, receiving an
input, starting, producing an output, completing, failing or being
terminated, a stop being requested, and the run's end. Events carry plain
JSON so audit tooling can replay a run without our classes.

Every command checks its rules (``domain.execution_status``) and raises
``IllegalTransitionError`` before any event is recorded; applying an event
(the ``@event``-decorated private methods) never checks a rule, so every
stream ever written still loads after a rule is tightened.

An event's time is the library's stamp: a decorated method that needs it
names a ``timestamp`` parameter, which the library fills from the event
whenever the event is applied (commands never pass it).

The decisions (which node runs next with which inputs) are made by
``domain.execution_engine``; this class records them and keeps the state
they need.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from domain.execution_status import TERMINAL, ExecutionStatus, IllegalTransitionError, check_transition

S = ExecutionStatus


class NodeExecution:
    """One run (or pending run) of one node inside a graph execution."""

    __slots__ = (
        "add_time",
        "block_id",
        "error",
        "input_data",
        "node_exec_id",
        "node_id",
        "output_data",
        "stats",
        "status",
    )

    def __init__(self, node_exec_id: str, node_id: str, block_id: str, add_time: datetime) -> None:
        self.node_exec_id = node_exec_id
        self.node_id = node_id
        self.block_id = block_id
        self.status = S.INCOMPLETE
        self.input_data: dict[str, Any] = {}
        self.output_data: dict[str, list[Any]] = {}
        self.add_time = add_time
        self.stats: dict[str, Any] = {}
        self.error: str | None = None

    def output_count(self) -> int:
        """How many outputs this node execution has recorded."""
        return sum(len(values) for values in self.output_data.values())


class GraphExecution(Aggregate):
    """A run of one pinned graph version for one user."""

    # -- creation ----------------------------------------------------------

    class Requested(Aggregate.Created):
        """A user asked to run a graph version with these inputs."""

        graph_id: str
        graph_version: int
        user_id: str
        inputs: dict[str, Any]
        credentials_inputs: dict[str, Any]
        nodes_input_masks: dict[str, Any]
        parent_execution_id: str | None
        parent_node_exec_id: str | None
        preset_id: str | None = None  # the preset run (added later: older events have none)

    @event(Requested)
    def __init__(
        self,
        graph_id: str,
        graph_version: int,
        user_id: str,
        inputs: dict[str, Any],
        credentials_inputs: dict[str, Any],
        nodes_input_masks: dict[str, Any],
        parent_execution_id: str | None,
        parent_node_exec_id: str | None,
        preset_id: str | None = None,
    ) -> None:
        self.graph_id = graph_id
        self.graph_version = graph_version
        self.user_id = user_id
        self.inputs = inputs
        self.credentials_inputs = credentials_inputs
        self.nodes_input_masks = nodes_input_masks
        self.parent_execution_id = parent_execution_id
        self.parent_node_exec_id = parent_node_exec_id
        self.preset_id = preset_id
        self.status = S.INCOMPLETE
        self.node_executions: dict[str, NodeExecution] = {}
        self.outputs: defaultdict[str, list[Any]] = defaultdict(list)
        self.latest_outputs: dict[tuple[str, str], Any] = {}
        # indexes the engine needs on every step, kept by the event handlers
        self.waiting_by_node: defaultdict[str, list[str]] = defaultdict(list)
        self.active: set[str] = set()
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.executor_id: str | None = None
        self.stop_requested = False
        self.stats: dict[str, Any] = {}
        self.error: str | None = None
        self.deleted = False
        self.share_token: str | None = None

    @classmethod
    def request(
        cls,
        *,
        graph_id: str,
        graph_version: int,
        user_id: str,
        inputs: dict[str, Any],
        credentials_inputs: dict[str, Any] | None = None,
        nodes_input_masks: dict[str, Any] | None = None,
        parent_execution_id: str | None = None,
        parent_node_exec_id: str | None = None,
        execution_id: UUID | None = None,
        preset_id: str | None = None,
    ) -> GraphExecution:
        """A new run, requested and queued (``preset_id``: the preset it runs, if any)."""
        execution = cls._create(
            cls.Requested,
            id=execution_id or uuid4(),
            graph_id=graph_id,
            graph_version=graph_version,
            user_id=user_id,
            inputs=inputs,
            credentials_inputs=credentials_inputs or {},
            nodes_input_masks=nodes_input_masks or {},
            parent_execution_id=parent_execution_id,
            parent_node_exec_id=parent_node_exec_id,
            preset_id=preset_id,
        )
        execution._queued()
        return execution

    class Queued(Aggregate.Event):
        """The run waits for an executor slot."""

    @event(Queued)
    def _queued(self) -> None:
        self.status = S.QUEUED

    # -- the run -------------------------------------------------------------

    def start(self, executor_id: str) -> None:
        """An executor takes the queued run."""
        check_transition(f"execution {self.id}", self.status, S.RUNNING)
        self._started(executor_id=executor_id)

    class Started(Aggregate.Event):
        """An executor took the run and started it."""

        executor_id: str

    @event(Started)
    def _started(self, executor_id: str, timestamp: datetime | None = None) -> None:
        self.status = S.RUNNING
        self.started_at = timestamp
        self.executor_id = executor_id

    def resume(self, executor_id: str) -> None:
        """Another executor takes over a running run."""
        if self.status != S.RUNNING:
            raise IllegalTransitionError(f"execution {self.id} is {self.status}, only RUNNING runs are resumed")
        self._resumed(executor_id=executor_id, previous_executor_id=self.executor_id)

    class Resumed(Aggregate.Event):
        """Another executor took over a running run (after a crash or a rebalance)."""

        executor_id: str
        previous_executor_id: str | None

    @event(Resumed)
    def _resumed(self, executor_id: str, previous_executor_id: str | None) -> None:
        # previous_executor_id is kept for the audit trail: the state needs only the new owner
        self.executor_id = executor_id

    def request_stop(self, requested_by: str) -> bool:
        """Ask the run to stop; False when it has ended or a stop is pending."""
        if self.status in TERMINAL or self.stop_requested:
            return False
        self._stop_requested(requested_by=requested_by)
        return True

    class StopRequested(Aggregate.Event):
        """Someone asked for the run to stop."""

        requested_by: str

    @event(StopRequested)
    def _stop_requested(self, requested_by: str) -> None:
        # requested_by is kept for the audit trail
        self.stop_requested = True

    def complete(self, stats: dict[str, Any]) -> None:
        """End the run as COMPLETED."""
        check_transition(f"execution {self.id}", self.status, S.COMPLETED)
        self._completed(stats=stats)

    class Completed(Aggregate.Event):
        """No node is left to run and nothing stopped or failed the run."""

        stats: dict[str, Any]

    @event(Completed)
    def _completed(self, stats: dict[str, Any], timestamp: datetime | None = None) -> None:
        self._finish(S.COMPLETED, timestamp, stats)

    def fail(self, error: str, stats: dict[str, Any]) -> None:
        """End the run as FAILED with a graph-level error."""
        check_transition(f"execution {self.id}", self.status, S.FAILED)
        self._failed(error=error, stats=stats)

    class Failed(Aggregate.Event):
        """A graph-level error ended the run."""

        error: str
        stats: dict[str, Any]

    @event(Failed)
    def _failed(self, error: str, stats: dict[str, Any], timestamp: datetime | None = None) -> None:
        self._finish(S.FAILED, timestamp, stats)
        self.error = error

    def terminate(self, stats: dict[str, Any]) -> None:
        """End the run as TERMINATED, first terminating every unfinished node."""
        check_transition(f"execution {self.id}", self.status, S.TERMINATED)
        for node in list(self.node_executions.values()):
            if node.status in (S.INCOMPLETE, S.QUEUED, S.RUNNING):
                self.terminate_node(node.node_exec_id, "execution stopped")
        self._terminated(stats=stats)

    class Terminated(Aggregate.Event):
        """The run was stopped."""

        stats: dict[str, Any]

    @event(Terminated)
    def _terminated(self, stats: dict[str, Any], timestamp: datetime | None = None) -> None:
        self._finish(S.TERMINATED, timestamp, stats)

    # -- housekeeping (a finished run only) ------------------------------------

    def delete(self, requested_by: str) -> None:
        """Soft-delete the finished run (AutoGPT's ``isDeleted``): reads hide it from then on; a share ends with it.

        Only a finished run is deleted: a run still going would keep running (and charging) hidden from its
        owner, who could then no longer stop it; stop it first. Deleting twice is refused the same way.
        """
        self._require_housekeeping("deleted")
        self._deleted(requested_by=requested_by)

    class Deleted(Aggregate.Event):
        """The owner deleted the finished run (soft: its events stay, every read hides it)."""

        requested_by: str

    @event(Deleted)
    def _deleted(self, requested_by: str) -> None:
        # requested_by is kept for the audit trail
        self.deleted = True
        self.share_token = None

    def share(self, share_token: str, requested_by: str) -> None:
        """Share the finished run's outputs under ``share_token`` (a public, unguessable link)."""
        self._require_housekeeping("shared")
        if self.share_token is not None:
            raise IllegalTransitionError(f"execution {self.id} is shared already")
        self._shared(share_token=share_token, requested_by=requested_by)

    class Shared(Aggregate.Event):
        """The owner shared the finished run's outputs under a token anyone holding it may read them with."""

        share_token: str
        requested_by: str

    @event(Shared)
    def _shared(self, share_token: str, requested_by: str) -> None:
        self.share_token = share_token

    def unshare(self, requested_by: str) -> bool:
        """Stop sharing the run: its token stops working. False when it was not shared (nothing recorded)."""
        if self.deleted:
            raise ExecutionDeletedError(f"execution {self.id} is deleted")
        if self.share_token is None:
            return False
        self._unshared(requested_by=requested_by)
        return True

    class Unshared(Aggregate.Event):
        """The owner stopped sharing the run: its token names nothing any more."""

        requested_by: str

    @event(Unshared)
    def _unshared(self, requested_by: str) -> None:
        self.share_token = None

    def _require_housekeeping(self, what: str) -> None:
        if self.deleted:
            raise ExecutionDeletedError(f"execution {self.id} is deleted")
        if self.status not in TERMINAL:
            raise ExecutionNotFinishedError(
                f"execution {self.id} is {self.status}: only a finished run (COMPLETED, FAILED or TERMINATED) "
                f"can be {what}; stop it first"
            )

    # -- node executions -------------------------------------------------------

    def add_node_input(self, node_exec_id: str, node_id: str, block_id: str, pin: str, value: Any) -> None:
        """Record one input of a node execution that still waits for more."""
        node = self.node_executions.get(node_exec_id)
        if node is not None and node.status != S.INCOMPLETE:
            raise IllegalTransitionError(f"node execution {node_exec_id} is {node.status}: it takes no inputs")
        self._node_input_received(node_exec_id=node_exec_id, node_id=node_id, block_id=block_id, pin=pin, value=value)

    class NodeInputReceived(Aggregate.Event):
        """A node execution got one input and still waits for others."""

        node_exec_id: str
        node_id: str
        block_id: str
        pin: str
        value: Any

    @event(NodeInputReceived)
    def _node_input_received(
        self, node_exec_id: str, node_id: str, block_id: str, pin: str, value: Any, timestamp: datetime | None = None
    ) -> None:
        node = self._node_or_new(node_exec_id, node_id, block_id, timestamp)
        node.input_data[pin] = value

    def queue_node(self, node_exec_id: str, node_id: str, block_id: str, input_data: dict[str, Any]) -> None:
        """Queue a node execution (new, waiting, or terminated and re-run)."""
        node = self.node_executions.get(node_exec_id)
        if node is not None:
            check_transition(f"node execution {node_exec_id}", node.status, S.QUEUED)
        self._node_execution_queued(
            node_exec_id=node_exec_id, node_id=node_id, block_id=block_id, input_data=input_data
        )

    class NodeExecutionQueued(Aggregate.Event):
        """A node execution has every input it needs and waits to run."""

        node_exec_id: str
        node_id: str
        block_id: str
        input_data: dict[str, Any]

    @event(NodeExecutionQueued)
    def _node_execution_queued(
        self,
        node_exec_id: str,
        node_id: str,
        block_id: str,
        input_data: dict[str, Any],
        timestamp: datetime | None = None,
    ) -> None:
        node = self._node_or_new(node_exec_id, node_id, block_id, timestamp)
        self._move(node, S.QUEUED)
        node.input_data = input_data
        node.error = None

    def start_node(self, node_exec_id: str) -> None:
        """A queued node execution begins."""
        check_transition(f"node execution {node_exec_id}", self._node(node_exec_id).status, S.RUNNING)
        self._node_execution_started(node_exec_id=node_exec_id)

    class NodeExecutionStarted(Aggregate.Event):
        """A node execution began running its block."""

        node_exec_id: str

    @event(NodeExecutionStarted)
    def _node_execution_started(self, node_exec_id: str) -> None:
        node = self.node_executions[node_exec_id]
        self._move(node, S.RUNNING)

    def record_output(self, node_exec_id: str, pin: str, value: Any, graph_output_name: str | None = None) -> None:
        """A running node yielded ``value`` on ``pin``."""
        node = self._node(node_exec_id)
        if node.status != S.RUNNING:
            raise IllegalTransitionError(f"node execution {node_exec_id} is {node.status}: it cannot yield")
        self._node_output_produced(node_exec_id=node_exec_id, pin=pin, value=value, graph_output_name=graph_output_name)

    class NodeOutputProduced(Aggregate.Event):
        """A running block yielded a value on one of its pins."""

        node_exec_id: str
        pin: str
        value: Any
        graph_output_name: str | None

    @event(NodeOutputProduced)
    def _node_output_produced(self, node_exec_id: str, pin: str, value: Any, graph_output_name: str | None) -> None:
        node = self.node_executions[node_exec_id]
        node.output_data.setdefault(pin, []).append(value)
        self.latest_outputs[(node.node_id, pin)] = value
        if graph_output_name is not None:
            self.outputs[graph_output_name].append(value)

    def complete_node(self, node_exec_id: str, stats: dict[str, Any]) -> None:
        """A node execution finished cleanly."""
        check_transition(f"node execution {node_exec_id}", self._node(node_exec_id).status, S.COMPLETED)
        self._node_execution_completed(node_exec_id=node_exec_id, stats=stats)

    class NodeExecutionCompleted(Aggregate.Event):
        """A block finished without error."""

        node_exec_id: str
        stats: dict[str, Any]

    @event(NodeExecutionCompleted)
    def _node_execution_completed(self, node_exec_id: str, stats: dict[str, Any]) -> None:
        node = self.node_executions[node_exec_id]
        self._move(node, S.COMPLETED)
        node.stats = stats

    def fail_node(self, node_exec_id: str, error: str, stats: dict[str, Any]) -> None:
        """A node execution failed with ``error``."""
        check_transition(f"node execution {node_exec_id}", self._node(node_exec_id).status, S.FAILED)
        self._node_execution_failed(node_exec_id=node_exec_id, error=error, stats=stats)

    class NodeExecutionFailed(Aggregate.Event):
        """A block raised, or yielded on its error pin."""

        node_exec_id: str
        error: str
        stats: dict[str, Any]

    @event(NodeExecutionFailed)
    def _node_execution_failed(self, node_exec_id: str, error: str, stats: dict[str, Any]) -> None:
        node = self.node_executions[node_exec_id]
        self._move(node, S.FAILED)
        node.stats = stats
        node.error = error

    def terminate_node(self, node_exec_id: str, reason: str) -> None:
        """Stop a queued, waiting or running node execution."""
        check_transition(f"node execution {node_exec_id}", self._node(node_exec_id).status, S.TERMINATED)
        self._node_execution_terminated(node_exec_id=node_exec_id, reason=reason)

    class NodeExecutionTerminated(Aggregate.Event):
        """A node execution was stopped (a stop, or its executor was lost)."""

        node_exec_id: str
        reason: str

    @event(NodeExecutionTerminated)
    def _node_execution_terminated(self, node_exec_id: str, reason: str) -> None:
        node = self.node_executions[node_exec_id]
        self._move(node, S.TERMINATED)
        node.error = reason

    # -- queries -----------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        """True once COMPLETED, FAILED or TERMINATED."""
        return self.status in TERMINAL

    def waiting(self, node_id: str) -> list[NodeExecution]:
        """INCOMPLETE executions of ``node_id``, oldest first."""
        return [self.node_executions[i] for i in self.waiting_by_node.get(node_id, ())]

    def nodes_in(self, *statuses: ExecutionStatus) -> list[NodeExecution]:
        """Node executions in any of ``statuses``, in the order they were created."""
        return [node for node in self.node_executions.values() if node.status in statuses]

    # -- state helpers ---------------------------------------------------------

    def _node(self, node_exec_id: str) -> NodeExecution:
        try:
            return self.node_executions[node_exec_id]
        except KeyError:
            raise IllegalTransitionError(f"execution {self.id} has no node execution {node_exec_id}") from None

    # the helpers below run while an event is applied: they change state and never check a rule

    def _node_or_new(self, node_exec_id: str, node_id: str, block_id: str, moment: datetime | None) -> NodeExecution:
        node = self.node_executions.get(node_exec_id)
        if node is None:
            node = NodeExecution(node_exec_id, node_id, block_id, _stamped(moment))
            self.node_executions[node_exec_id] = node
            self.waiting_by_node[node_id].append(node_exec_id)
        return node

    def _move(self, node: NodeExecution, target: ExecutionStatus) -> None:
        if node.status == S.INCOMPLETE:
            self.waiting_by_node[node.node_id].remove(node.node_exec_id)
        node.status = target
        if target in (S.QUEUED, S.RUNNING):
            self.active.add(node.node_exec_id)
        else:
            self.active.discard(node.node_exec_id)

    def _finish(self, status: ExecutionStatus, moment: datetime | None, stats: dict[str, Any]) -> None:
        self.status = status
        self.ended_at = moment
        self.stats = stats


class ExecutionNotFinishedError(IllegalTransitionError):
    """A housekeeping command (delete, share) on a run that has not ended yet."""


class ExecutionDeletedError(IllegalTransitionError):
    """A command on a deleted run (reads answer it as not found)."""


HOUSEKEEPING: tuple[type[Aggregate.Event], ...] = (
    GraphExecution.Deleted,
    GraphExecution.Shared,
    GraphExecution.Unshared,
)
"""Events recorded on finished runs only: they never change a run's status (``application.executions.peek``)."""


RUN_ENDINGS: dict[type[Aggregate.Event], ExecutionStatus] = {
    GraphExecution.Completed: S.COMPLETED,
    GraphExecution.Failed: S.FAILED,
    GraphExecution.Terminated: S.TERMINATED,
}
"""The events that end a run, and the status each leaves it in (read sides follow this, never a list of their own)."""


def _stamped(timestamp: datetime | None) -> datetime:
    """The event's time while it is applied (the library always fills it then)."""
    assert timestamp is not None, "applied events carry their timestamp"
    return timestamp


STOP_REQUEST_NAMESPACE = UUID("6f2a0d1e-5d55-4d0c-9a57-3c1f0b7d2e11")


class ExecutionStopRequest(Aggregate):
    """A user's request to stop a run, kept apart from the run itself.

    A running execution is written by its executor many times a second; a
    stop written into the same stream would lose every optimistic-concurrency
    race. The request is therefore its own (tiny) aggregate, one per run,
    with an id derived from the run's id; the executor that drives the run
    reads it and records ``StopRequested`` and the termination itself.
    """

    class Requested(Aggregate.Created):
        """Someone asked the run to stop."""

        execution_id: str
        requested_by: str

    @event(Requested)
    def __init__(self, execution_id: str, requested_by: str) -> None:
        self.execution_id = execution_id
        self.requested_by = requested_by

    @staticmethod
    def id_for(execution_id: UUID) -> UUID:
        """The request's id for a run: at most one request per run."""
        return uuid5(STOP_REQUEST_NAMESPACE, str(execution_id))

    @classmethod
    def for_execution(cls, execution_id: UUID, requested_by: str) -> ExecutionStopRequest:
        """A new stop request for ``execution_id``."""
        return cls._create(
            cls.Requested,
            id=cls.id_for(execution_id),
            execution_id=str(execution_id),
            requested_by=requested_by,
        )
