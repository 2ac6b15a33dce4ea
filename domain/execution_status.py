"""Execution statuses and the transitions AutoGPT allows between them.

The same table governs graph executions and node executions. An illegal
transition is a domain error, never a silent overwrite.
"""

from __future__ import annotations

import enum


class ExecutionStatus(enum.StrEnum):
    """Where a graph execution or a node execution is in its life."""

    INCOMPLETE = "INCOMPLETE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"
    REVIEW = "REVIEW"


S = ExecutionStatus

ALLOWED_SOURCES: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    S.QUEUED: frozenset({S.INCOMPLETE, S.TERMINATED, S.REVIEW}),
    S.RUNNING: frozenset({S.INCOMPLETE, S.QUEUED, S.TERMINATED, S.REVIEW}),
    S.COMPLETED: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.INCOMPLETE, S.QUEUED, S.RUNNING, S.REVIEW}),
    S.TERMINATED: frozenset({S.INCOMPLETE, S.QUEUED, S.RUNNING, S.REVIEW}),
    S.REVIEW: frozenset({S.RUNNING}),
}
"""Destination -> the statuses it may be reached from (EXECUTION.md)."""

TERMINAL = frozenset({S.COMPLETED, S.TERMINATED, S.FAILED})


class IllegalTransitionError(Exception):
    """A status change the platform's rules do not allow."""


def check_transition(what: str, current: ExecutionStatus, target: ExecutionStatus) -> None:
    """Raise ``IllegalTransitionError`` unless ``current -> target`` is allowed."""
    if current not in ALLOWED_SOURCES.get(target, frozenset()):
        raise IllegalTransitionError(f"{what} cannot go from {current} to {target}")
