"""Wake-ups on commit, so that followers of a log sleep instead of polling.

Each event store's recorder owns a ``CommitSignal`` and notifies it after
every commit made in this process (a graph saved, a batch of the executor's
group commit, anything written through the store). On PostgreSQL the
signal also LISTENs, while anyone follows the log, to the channel the
recorder NOTIFYs on every insert (one connection per database and process,
whatever the number of logs followed), so commits of other processes wake
this process's followers too. A follower subscribes a callback (typically
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

    While the log has followers in this process, the process's listener of
    that database (one connection for every followed log) LISTENs to the
    channel the recorder NOTIFYs on insert.
    """

    idle_poll = 5.0
    """Only a lost notification (while the listener reconnects) waits this long."""

    def __init__(self, channel: str, connection_kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.channel = channel
        self._listener = _listener_for(connection_kwargs)

    def _followed(self) -> None:
        self._listener.listen(self)

    def _unfollowed(self) -> None:
        self._listener.unlisten(self)


class _Listener:
    """One LISTEN connection per database and process, open while some log of it is followed."""

    listen_timeout = 0.25
    """How often the listening thread looks up from the connection (to add channels, or to stop)."""

    def __init__(self, connection_kwargs: dict[str, Any]) -> None:
        self._connection_kwargs = connection_kwargs
        self._lock = threading.Lock()
        self._signals: dict[str, list[PostgresCommitSignal]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def listen(self, signal: PostgresCommitSignal) -> None:
        """Notify ``signal`` of every commit on its channel, from any process."""
        with self._lock:
            self._signals.setdefault(signal.channel, []).append(signal)
            if self._thread is None:
                self._stopping = threading.Event()  # a fresh one: a thread still stopping keeps its own
                self._thread = threading.Thread(
                    target=self._run, args=(self._stopping,), name="listen-commits", daemon=True
                )
                self._thread.start()

    def unlisten(self, signal: PostgresCommitSignal) -> None:
        """Stop notifying ``signal``; the connection closes with the last one."""
        with self._lock:
            signals = self._signals.get(signal.channel, [])
            if signal in signals:
                signals.remove(signal)
            if not signals:
                self._signals.pop(signal.channel, None)
            thread = self._thread if not self._signals else None
            if thread is not None:
                self._stopping.set()
                self._thread = None
        if thread is not None:
            thread.join(timeout=2 * self.listen_timeout + 1)

    def _run(self, stopping: threading.Event) -> None:
        try:
            retrying("listening for commits", log, stopping)(self._listen, stopping)
        except Exception:
            if not stopping.is_set():  # only a stop ends the retrying
                raise

    def _listen(self, stopping: threading.Event) -> None:
        with psycopg.connect(**self._connection_kwargs, autocommit=True) as conn:
            listening: set[str] = set()
            while not stopping.is_set():
                with self._lock:
                    wanted = set(self._signals)
                for channel in sorted(wanted - listening):
                    conn.execute(SQL("LISTEN {}").format(Identifier(channel)))
                for channel in sorted(listening - wanted):
                    conn.execute(SQL("UNLISTEN {}").format(Identifier(channel)))
                for channel in wanted - listening:
                    self._notify(channel)  # whatever was committed before it listened
                listening = wanted
                for notification in conn.notifies(timeout=self.listen_timeout):
                    self._notify(notification.channel)

    def _notify(self, channel: str) -> None:
        with self._lock:
            signals = list(self._signals.get(channel, []))
        for signal in signals:
            signal.notify()


_listeners: dict[tuple[tuple[str, Any], ...], _Listener] = {}
_listeners_lock = threading.Lock()


def _listener_for(connection_kwargs: dict[str, Any]) -> _Listener:
    """This process's listener of the database ``connection_kwargs`` name."""
    key = tuple(sorted(connection_kwargs.items()))
    with _listeners_lock:
        if key not in _listeners:
            _listeners[key] = _Listener(connection_kwargs)
        return _listeners[key]
