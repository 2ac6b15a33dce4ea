"""Which store errors mean "busy, try again shortly" rather than a bug.

Both stores can run out of room for one more request: eventsourcing's own
connection pool (SQLite event stores) times out waiting for its semaphore,
psycopg-pool (PostgreSQL event stores, through eventsourcing, and the read
store) times out or refuses a queue that is too long, SQLite gives up on a
lock another connection holds ("database is locked"), and PostgreSQL cancels
on a lock or statement timeout or drops a connection. None of these is the
client's fault or a bug: the API answers them 503 with ``Retry-After``
(``api.errors``). eventsourcing wraps the driver's error in its own, so the
whole ``__cause__`` chain is looked at.
"""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import ConnectionUnavailableError
from eventsourcing.persistence import OperationalError as StoreOperationalError

RETRY_AFTER_SECONDS = 1
"""What a busy answer tells the client to wait before trying again."""

MAYBE_BUSY: tuple[type[Exception], ...] = (
    ConnectionUnavailableError,
    StoreOperationalError,
    psycopg.OperationalError,
    sqlite3.OperationalError,
)
"""The exception types a busy store raises (``is_store_busy`` says whether this one is)."""

_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def is_store_busy(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says a store is out of connections, locked or unreachable."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionUnavailableError | psycopg.OperationalError):
            return True  # pool timeouts, lock and statement timeouts, lost connections
        if isinstance(seen, sqlite3.OperationalError) and str(seen).startswith(_SQLITE_BUSY):
            return True
        seen = seen.__cause__
    return False
