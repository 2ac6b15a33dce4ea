"""The one way to follow a context's notification log: the projection runner, the execution feed and the relay use it.

A ``LogFollower`` reads one context's log from a start position in batches,
in its own thread, and hands each batch to a handler; its position moves
past a batch only once the handler returned, so a failing read or handler
is retried (``application.retry``) with the same batch, which makes
delivery at least once, in log order. At the head of the log it sleeps
until the store's commit signal wakes it (``adapters.commit_signal``), or,
as a safety net, for the signal's ``idle_poll`` seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from eventsourcing.persistence import ConnectionPoolClosedError

from adapters.event_log import EventLog
from application.retry import retrying
from projections.envelope import EventEnvelope

log = logging.getLogger(__name__)

IDLE_POLL = 1.0
"""Seconds between reads at the head of a log whose store signals no commits."""


class LogFollower:
    """Hands every new batch of one context's log to ``handle``, from ``start`` on, until stopped."""

    def __init__(
        self,
        event_log: EventLog,
        handle: Callable[[list[EventEnvelope]], None],
        *,
        start: int | Callable[[], int] = 0,
        topics: Sequence[str] = (),
        batch_size: int = 1000,
        name: str | None = None,
    ) -> None:
        """``start``: the position to follow from (events after it), or how to find it (retried like a read).

        ``topics``: only the events of these topics (all by default).
        """
        self.log = event_log
        self.position = start if isinstance(start, int) else 0
        """The position of the last event handled."""
        self._handle = handle
        self._start = start
        self._topics = list(topics)
        self._batch_size = batch_size
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name or f"follow-{event_log.context}", daemon=True)

    def start(self) -> None:
        """Start following in the follower's thread."""
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the follower to stop after the batch it is handling (``join`` waits for it)."""
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float | None = 30.0) -> None:
        """Wait until the follower stopped."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def stop(self) -> None:
        """Stop following and wait for it."""
        self.request_stop()
        self.join()

    def _run(self) -> None:
        signal = self.log.commits
        unsubscribe = signal.subscribe(self._wake.set) if signal is not None else None
        idle_poll = signal.idle_poll if signal is not None else IDLE_POLL
        context = self.log.context
        try:
            if not isinstance(self._start, int):
                self.position = retrying(f"finding where to follow the {context} log", log, self._stopping)(self._start)
            step = retrying(f"following the {context} log", log, self._stopping)
            while not self._stopping.is_set():
                self._wake.clear()  # before reading: a commit after the read wakes the wait below
                if step(self._step) < self._batch_size:
                    self._wake.wait(idle_poll)
        except ConnectionPoolClosedError:
            # the store was closed under the follower (its process is shutting down): nothing left to follow
            log.warning("the %s log's store was closed: stopped following it at position %d", context, self.position)
        except Exception:
            if not self._stopping.is_set():  # only a stop ends the retrying
                raise
        finally:
            if unsubscribe is not None:
                unsubscribe()

    def _step(self) -> int:
        """Read one batch and hand it on; returns its size.

        Following some topics only, a short batch moves the position to the
        head read before it (both stores commit positions in order, so
        nothing at or below it can still appear): otherwise a flood of other
        events (a looping run) would be scanned again on every wake-up.
        """
        head = self.log.head() if self._topics else 0
        batch = self.log.read(self.position, self._batch_size, self._topics)
        if batch:
            self._handle(batch)
            self.position = batch[-1].position
        if len(batch) < self._batch_size:
            self.position = max(self.position, head)
        return len(batch)
