"""How execution events change a run's row in ``read.executions``."""

from __future__ import annotations

from domain.execution_status import ExecutionStatus
from domain.secret_inputs import mask_sealed
from projections.envelope import EventEnvelope
from projections.executions.unit_of_work import Row, UnitOfWork

S = ExecutionStatus


def requested(event: EventEnvelope, work: UnitOfWork) -> None:
    """A new run: its row starts INCOMPLETE."""
    data, at = event.data, event.timestamp
    work.add_run(
        {
            "execution_id": event.aggregate_id,
            "graph_id": data["graph_id"],
            "graph_version": data["graph_version"],
            "user_id": data["user_id"],
            "parent_execution_id": data.get("parent_execution_id"),
            "preset_id": data.get("preset_id"),
            "status": S.INCOMPLETE.value,
            "inputs": mask_sealed(data.get("inputs", {})),  # secret inputs: sealed in the event, masked here
            "credential_inputs": data.get("credentials_inputs") or {},
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
            "deleted_at": None,
            "share_token": None,
            "shared_at": None,
        }
    )


def queued(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """The run waits for an executor."""
    run["status"] = S.QUEUED.value


def started(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """An executor started the run."""
    run.update(status=S.RUNNING.value, started_at=event.timestamp, executor_id=event.data["executor_id"])


def resumed(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """Another executor took the run over."""
    run["executor_id"] = event.data["executor_id"]


def stop_requested(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """Nothing but the run's ``updated_at`` and ``last_position`` moves: the run ends with its own event."""


def ended(status: ExecutionStatus, event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """The run ended as ``status``, with its final stats."""
    stats = event.data.get("stats") or {}
    run.update(
        status=status.value,
        ended_at=event.timestamp,
        stats=stats,
        error=mask_sealed(event.data.get("error")),
        duration_seconds=stats.get("duration"),
        cost=float(stats.get("cost") or 0),
        node_count=int(stats.get("node_exec_count") or 0),
        node_error_count=int(stats.get("node_error_count") or 0),
    )
    work.stats_changed(run)


def deleted(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """The owner deleted the run: hidden from every read and left out of the statistics; its share ends."""
    _revoke_share(event, run, work)
    run["deleted_at"] = event.timestamp
    work.stats_changed(run)


def shared(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """The owner shared the run's outputs: the token now finds it."""
    token = event.data["share_token"]
    run.update(share_token=token, shared_at=event.timestamp)
    work.share(
        {
            "share_token": token,
            "execution_id": run["execution_id"],
            "user_id": run["user_id"],
            "shared_at": event.timestamp,
            "revoked_at": None,
        }
    )


def unshared(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    """The owner stopped sharing the run: its token finds nothing any more."""
    _revoke_share(event, run, work)


def _revoke_share(event: EventEnvelope, run: Row, work: UnitOfWork) -> None:
    if run.get("share_token") is None:
        return
    work.share(
        {
            "share_token": run["share_token"],
            "execution_id": run["execution_id"],
            "user_id": run["user_id"],
            "shared_at": run["shared_at"],
            "revoked_at": event.timestamp,
        }
    )
    run.update(share_token=None, shared_at=None)
