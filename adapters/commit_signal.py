"""Wake-ups on commit, so that followers of a log sleep instead of polling.

Each event store's recorder owns a ``CommitSignal`` and notifies it after
every commit made in this process (a graph saved, a batch of the executor's
group commit, anything written through the store). On PostgreSQL the
signal also LISTENs, while anyone follows the log, to the channel the
recorder NOTIFYs on every insert, so commits of other processes wake this
process's followers too. A follower subscribes a callback (typically
``threading.Event.set``) and still reads now and then (``idle_poll``) in
case a wake-up was missed: a dropped LISTEN connection, or an embedded
SQLite file written by another process (the CLI importing an agent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from application.retry import retrying

log = logging.getLogger(__name__)


class CommitSignal:
    """Tells whoever follows one event store's log that a commit landed in this process."""

    idle_poll = 1.0
    """Seconds a follower may sleep without a wake-up (commits of other processes are not heard)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the callbacks (``notify`` takes only this one)
        self._lifecycle = threading.Lock()  # orders the first-subscriber / last-subscriber transitions
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_key = 0

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from any thread) after each commit; returns the function that unsubscribes."""
        with self._lifecycle:
            with self._lock:
                key, self._next_key = self._next_key, self._next_key + 1
                self._callbacks[key] = callback
                first = len(self._callbacks) == 1
            if first:
                self._followed()

        def unsubscribe() -> None:
            with self._lifecycle:
                with self._lock:
                    found = self._callbacks.pop(key, None) is not None
                    last = found and not self._callbacks
                if last:
                    self._unfollowed()

        return unsubscribe

    def notify(self) -> None:
        """A commit landed: wake every subscriber."""
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            callback()

    def _followed(self) -> None:
        """The first subscriber arrived."""

    def _unfollowed(self) -> None:
        """The last subscriber left."""


class PostgresCommitSignal(CommitSignal):
    """A ``CommitSignal`` that also hears other processes' commits through ``LISTEN``.

    One connection per followed log and process, open only while someone
    follows the log; it reconnects (with the retry policy) if it drops.
    """

    idle_poll = 5.0
    """Only a lost notification (while reconnecting) waits this long."""

    listen_timeout = 0.25
    """How often the listening thread looks up from the connection to see whether to stop."""

    def __init__(self, channel: str, connection_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self._channel = channel
        self._connection_kwargs = connection_kwargs
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _followed(self) -> None:
        self._stopping = threading.Event()  # a fresh one: a thread still stopping keeps its own
        self._thread = threading.Thread(
            target=self._listen, args=(self._stopping,), name=f"listen-{self._channel}", daemon=True
        )
        self._thread.start()

    def _unfollowed(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * self.listen_timeout + 1)

    def _listen(self, stopping: threading.Event) -> None:
        try:
            retrying(f"listening to {self._channel}", log, stopping)(self._listen_once, stopping)
        except Exception:
            if not stopping.is_set():  # only a stop ends the retrying
                raise

    def _listen_once(self, stopping: threading.Event) -> None:
        with psycopg.connect(**self._connection_kwargs, autocommit=True) as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(self._channel)))
            self.notify()  # whatever was committed while nobody listened
            while not stopping.is_set():
                for _ in conn.notifies(timeout=self.listen_timeout):
                    self.notify()
