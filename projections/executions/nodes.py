"""How execution events change node rows in ``read.node_executions`` (and the run's graph outputs).

Secret run inputs travel sealed in the events (``domain.secret_inputs``); every value
and error a row takes is masked here, so read models, answers and live frames show ``MASK``.
"""

from __future__ import annotations

from domain.execution_status import ExecutionStatus
from domain.secret_inputs import mask_sealed
from projections.envelope import EventEnvelope
from projections.executions import stats
from projections.executions.unit_of_work import Row, UnitOfWork

S = ExecutionStatus


def _node_or_new(event: EventEnvelope, work: UnitOfWork) -> Row:
    data = event.data
    node = work.node(data["node_exec_id"])
    if node is None:
        node = {
            "node_exec_id": data["node_exec_id"],
            "execution_id": event.aggregate_id,
            "node_id": data["node_id"],
            "block_id": data["block_id"],
            "status": S.INCOMPLETE.value,
            "input_data": {},
            "output_data": {},
            "error": None,
            "add_time": event.timestamp,
            "queue_time": None,
            "start_time": None,
            "end_time": None,
            "walltime_seconds": None,
            "stats": {},
        }
        work.add_node(node)
    return node


def input_received(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """A waiting node execution got one input (its row is created by its first one)."""
    node = _node_or_new(event, work)
    node["input_data"] = {**node["input_data"], event.data["pin"]: mask_sealed(event.data["value"])}


def queued(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """A node execution has all its inputs and waits to run."""
    node = _node_or_new(event, work)
    node.update(
        status=S.QUEUED.value, input_data=mask_sealed(event.data["input_data"]), queue_time=event.timestamp, error=None
    )


def started(event: EventEnvelope, run: Row, node: Row, work: UnitOfWork) -> None:
    """The node's block started."""
    node.update(status=S.RUNNING.value, start_time=event.timestamp)


def output_produced(event: EventEnvelope, run: Row, node: Row, work: UnitOfWork) -> None:
    """The block yielded a value on a pin; a graph output also lands on the run."""
    data = event.data
    value = mask_sealed(data["value"])
    outputs = dict(node["output_data"])
    outputs[data["pin"]] = [*outputs.get(data["pin"], []), value]
    node["output_data"] = outputs
    name = data.get("graph_output_name")
    if name is not None:
        run_outputs = dict(run["outputs"])
        run_outputs[name] = [*run_outputs.get(name, []), value]
        run["outputs"] = run_outputs


def ended(status: ExecutionStatus, event: EventEnvelope, run: Row, node: Row, work: UnitOfWork) -> None:
    """The node execution ended as ``status``; a block that ran counts in its block's usage."""
    data = event.data
    node.update(
        status=status.value, end_time=event.timestamp, error=mask_sealed(data.get("error") or data.get("reason"))
    )
    if status != S.TERMINATED:
        node_stats = data.get("stats") or {}
        node["stats"] = node_stats
        node["walltime_seconds"] = node_stats.get("walltime")
        stats.count_block_run(
            work.block(node["block_id"]),
            failed=status == S.FAILED,
            walltime=float(node_stats.get("walltime") or 0),
        )
