"""The one retry policy of every loop that must outlast a failing dependency.

A database or Kafka broker that is down, slow or restarting must not end the
loops that keep the platform going (the executor's group-commit writer, the
log followers, the relay, the background workers). Each retries its failed
step with the same back-off, 0.2 s doubling up to 5 s, for as long as it is
meant to run, and logs every failure (with the traceback on the first one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eventsourcing.persistence import ConnectionPoolClosedError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_not_exception_type,
    stop_never,
    wait_exponential,
)

FIRST_WAIT = 0.2
"""Seconds before the first retry."""

LONGEST_WAIT = 5.0
"""The back-off doubles up to this many seconds between retries."""

_NOT_TRANSIENT = retry_if_not_exception_type(ConnectionPoolClosedError)
"""A store this process closed never comes back: retrying it would only keep a thread spinning."""


def retrying(what: str, logger: logging.Logger, until: threading.Event) -> Retrying:
    """Retry a blocking step until it succeeds, or until ``until`` is set (then its last error is raised).

    Call it with the step: ``retrying("reading the log", log, stop)(read, position)``.
    The waits end early when ``until`` is set, so a stopping thread never sleeps out its back-off.
    """
    return Retrying(
        sleep=lambda seconds: _wait(until, seconds),
        stop=lambda _: until.is_set(),
        retry=_NOT_TRANSIENT,
        wait=wait_exponential(multiplier=FIRST_WAIT, max=LONGEST_WAIT),
        before_sleep=_log_failure(what, logger),
        reraise=True,
    )


def retrying_async(what: str, logger: logging.Logger) -> AsyncRetrying:
    """Retry an awaited step until it succeeds (cancel the task to give up)."""
    return AsyncRetrying(
        stop=stop_never,
        retry=_NOT_TRANSIENT,
        wait=wait_exponential(multiplier=FIRST_WAIT, max=LONGEST_WAIT),
        before_sleep=_log_failure(what, logger),
        reraise=True,
    )


def _wait(until: threading.Event, seconds: float) -> None:
    until.wait(seconds)


def _log_failure(what: str, logger: logging.Logger) -> Callable[[RetryCallState], None]:
    def log_it(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        pause = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "%s failed (attempt %d: %r); retrying in %.1f s",
            what,
            state.attempt_number,
            error,
            pause,
            exc_info=error if state.attempt_number == 1 else None,
        )

    return log_it
