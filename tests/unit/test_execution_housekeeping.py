"""Housekeeping on the GraphExecution aggregate: delete and share a finished run, never a running one.

Housekeeping events follow a run's end and never change its status: the
cheap status read of the write side (``peek``) and the executor's last-resort
``fail_unloadable`` look past them.
"""

from __future__ import annotations

import pytest

from application.executions import ExecutionsApplication
from domain.execution import ExecutionNotFinishedError, GraphExecution
from domain.execution_status import ExecutionStatus
from domain.not_found import ExecutionNotFoundError


def _run(app: ExecutionsApplication, *, finished: bool) -> GraphExecution:
    run = GraphExecution.request(graph_id="g", graph_version=1, user_id="alice", inputs={})
    run.start("executor-1")
    if finished:
        run.complete({})
    app.save(run)
    return run


def test_a_running_run_can_be_neither_deleted_nor_shared() -> None:
    app = ExecutionsApplication()
    run = _run(app, finished=False)
    with pytest.raises(ExecutionNotFinishedError):
        app.delete_execution("alice", run.id)
    with pytest.raises(ExecutionNotFinishedError):
        app.share_execution("alice", run.id, "g")
    assert app.peek("alice", run.id).status == ExecutionStatus.RUNNING


def test_housekeeping_events_leave_the_status_as_the_run_ended() -> None:
    app = ExecutionsApplication()
    run = _run(app, finished=True)
    first = app.share_execution("alice", run.id, "g")
    assert app.share_execution("alice", run.id, "g") == type(first)(run.id, None, first.share_token)
    for _ in range(60):  # more unshares and shares than one page of the status read
        app.unshare_execution("alice", run.id, "g")
        app.share_execution("alice", run.id, "g")
    assert app.peek("alice", run.id).status == ExecutionStatus.COMPLETED
    assert app.fail_unloadable(run.id, "cannot load") is False  # it has ended: nothing appended
    with pytest.raises(ExecutionNotFoundError):
        app.share_execution("bob", run.id, "g")
    with pytest.raises(ExecutionNotFoundError):
        app.share_execution("alice", run.id, "another-graph")

    app.delete_execution("alice", run.id)
    loaded = app.load(run.id)
    assert loaded is not None and loaded.deleted and loaded.share_token is None
    for command in (
        lambda: app.peek("alice", run.id),
        lambda: app.delete_execution("alice", run.id),
        lambda: app.unshare_execution("alice", run.id, "g"),
    ):
        with pytest.raises(ExecutionNotFoundError):
            command()
