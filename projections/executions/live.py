"""Execution events -> AutoGPT's live payloads (``graph_execution_event``, ``node_execution_event``).

The read model's own handlers (``runs``, ``nodes``) build each run's and
node's row; here they change rows held in memory instead of a database
(``MemoryWork``), and after each event the changed row is turned into the
payload AutoGPT's executor would have published, with ``run_meta`` and
``NodeExecutionResult``: one mapping for the read models, the REST answers
and the live updates.

Every payload carries the position of the event that produced it. The same
events in the same order always give the same payloads, so what the
notifier publishes live and what a resuming subscriber is replayed from the
event store are the same frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from domain.execution import RUN_ENDINGS, GraphExecution
from domain.execution_status import ExecutionStatus
from domain.json_values import finite_json
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.executions import projection
from projections.executions.models import NodeExecutionResult
from projections.executions.queries import run_meta
from projections.executions.stats import new_block_usage
from projections.executions.unit_of_work import Row, UnitOfWork
from projections.store import ReadModelTx

_RUN_UPDATES = EventHandlers[bool](
    {
        GraphExecution.Queued: True,
        GraphExecution.Started: True,
        **{ending: True for ending in RUN_ENDINGS},
    }
)
"""Run events that publish a graph event.

AutoGPT's executor also republishes the run after every node that finished,
to refresh its running stats; our runs record their stats when they end, so
that update would repeat the one before it, and it is not sent. So every
event gives at most one update, and a position names one update per channel:
a resume by position is exact.
"""

_RUN_ENDS = EventHandlers[bool]({ending: True for ending in RUN_ENDINGS})


@dataclass(frozen=True)
class LiveUpdate:
    """One payload to push: which run (and whose), graph or node event, and the log position it came from."""

    position: int
    user_id: str
    graph_id: str
    execution_id: str
    kind: Literal["graph", "node", "notification"]
    """A run's or a node's update, or a user's notification (``projections.notifications``: no run, no position)."""
    data: dict[str, Any]
    final: bool = False
    """The run ended with this update (its last one)."""

    def as_json(self) -> dict[str, Any]:
        """The update as it travels between processes (Redis pub/sub)."""
        return {
            "position": self.position,
            "user_id": self.user_id,
            "graph_id": self.graph_id,
            "execution_id": self.execution_id,
            "kind": self.kind,
            "data": self.data,
            "final": self.final,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LiveUpdate:
        """The update from its travelling form."""
        kind: Literal["graph", "node", "notification"] = (
            "notification" if body["kind"] == "notification" else "node" if body["kind"] == "node" else "graph"
        )
        return cls(
            position=int(body["position"]),
            user_id=str(body["user_id"]),
            graph_id=str(body["graph_id"]),
            execution_id=str(body["execution_id"]),
            kind=kind,
            data=dict(body["data"]),
            final=bool(body.get("final", False)),
        )


class MemoryWork(UnitOfWork):
    """A ``UnitOfWork`` over rows held in memory: the projection's handlers run on it unchanged."""

    def __init__(self) -> None:
        super().__init__(cast(ReadModelTx, None))

    def run(self, execution_id: str) -> Row | None:
        """The run's row if its request was seen."""
        return self.runs.get(execution_id)

    def node(self, node_exec_id: str) -> Row | None:
        """The node execution's row if its first event was seen."""
        return self.nodes.get(node_exec_id)

    def block(self, block_id: str) -> Row:
        """A throwaway usage row: live updates carry no block statistics."""
        return new_block_usage(block_id)

    def stats_changed(self, run: Row) -> None:
        """Nothing to recompute: no statistics tables in memory."""

    def forget(self, execution_id: str) -> None:
        """Drop an ended run and its node executions (a long-lived notifier holds only runs in flight)."""
        self.runs.pop(execution_id, None)
        for node_exec_id in [key for key, node in self.nodes.items() if node["execution_id"] == execution_id]:
            del self.nodes[node_exec_id]


class LiveRuns:
    """Turns execution events into live updates, keeping in memory the runs in flight.

    ``history`` loads a run's stored events when an event of a run never
    seen arrives (the notifier started mid-run): its state is rebuilt first.
    """

    def __init__(self, history: Callable[[str], list[EventEnvelope]] | None = None) -> None:
        self._work = MemoryWork()
        self._projection = projection.ExecutionsProjection()
        self._history = history

    def updates(self, event: EventEnvelope) -> list[LiveUpdate]:
        """The payloads ``event`` publishes (none for events AutoGPT publishes nothing for)."""
        work = self._work
        if event.type not in projection.RUN_EVENT_TYPES:
            return []
        if work.run(event.aggregate_id) is None and event.type not in projection.RUN_START_TYPES:
            self._rebuild(event)
        self._apply(event)
        run = work.run(event.aggregate_id)
        if run is None:
            return []
        found: list[LiveUpdate] = []
        node_exec_id = event.data.get("node_exec_id")
        if node_exec_id is not None and (node := work.node(str(node_exec_id))) is not None:
            found.append(self._node_update(event.position, run, node))
        elif _RUN_UPDATES.get(event.type):
            found.append(self._run_update(event.position, run, final=bool(_RUN_ENDS.get(event.type))))
        if _RUN_ENDS.get(event.type):
            work.forget(event.aggregate_id)
        return found

    def _apply(self, event: EventEnvelope) -> None:
        self._projection.apply_one(event, self._work)

    def _rebuild(self, event: EventEnvelope) -> None:
        if self._history is None:
            return
        for earlier in self._history(event.aggregate_id):
            if earlier.position >= event.position:
                break
            self._apply(earlier)

    @staticmethod
    def _run_update(position: int, run: Row, *, final: bool = False) -> LiveUpdate:
        meta = run_meta(
            execution_id=run["execution_id"],
            user_id=run["user_id"],
            graph_id=run["graph_id"],
            graph_version=int(run["graph_version"]),
            status=run["status"],
            inputs=run["inputs"],
            # AutoGPT's fallbacks: started_at to the creation time, ended_at to the last update (never null)
            started_at=run["started_at"] or run["created_at"],
            ended_at=run["ended_at"] or run["updated_at"],
            stats=run["stats"],
            preset_id=run.get("preset_id"),
        )
        # a live frame reports what the run does; sharing is the owner's housekeeping, not an update of the run
        data = meta.model_dump(mode="json", exclude={"credential_inputs", "parked_events", "is_shared", "share_token"})
        data["outputs"] = finite_json(run["outputs"] or {})
        data["inputs"] = data.get("inputs") or {}
        return LiveUpdate(
            position,
            run["user_id"],
            run["graph_id"],
            run["execution_id"],
            "graph",
            {"event_type": "graph_execution_update", **data},
            final=final,
        )

    @staticmethod
    def _node_update(position: int, run: Row, node: Row) -> LiveUpdate:
        result = NodeExecutionResult(
            user_id=run["user_id"],
            graph_id=run["graph_id"],
            graph_version=int(run["graph_version"]),
            graph_exec_id=run["execution_id"],
            node_exec_id=node["node_exec_id"],
            node_id=node["node_id"],
            block_id=node["block_id"],
            status=ExecutionStatus(node["status"]),
            input_data=finite_json(node["input_data"] or {}),
            output_data=finite_json(node["output_data"] or {}),
            add_time=node["add_time"],
            queue_time=node["queue_time"],
            start_time=node["start_time"],
            end_time=node["end_time"],
            stats=finite_json(node["stats"]) or None,
        )
        return LiveUpdate(
            position,
            run["user_id"],
            run["graph_id"],
            run["execution_id"],
            "node",
            {"event_type": "node_execution_update", **result.model_dump(mode="json")},
        )


def replay(history: list[EventEnvelope], after: int) -> list[LiveUpdate]:
    """The updates of one run's stored events, those of positions after ``after`` (a resuming subscriber's)."""
    runs = LiveRuns()
    return [update for event in history for update in runs.updates(event) if update.position > after]
