"""A SQLite application recorder that inserts a batch with one ``executemany``.

eventsourcing's SQLite recorder runs one ``execute`` per event through a
Python wrapper to read each row id; for the executor's large batches that
per-row overhead dominates. Inside the write transaction (SQLite has one
writer at a time) the rows of one ``executemany`` get consecutive row ids,
so the notification ids are the ``n`` ids ending at ``last_insert_rowid()``.

It also owns the log's ``commits`` signal (``adapters.commit_signal``),
notified after each commit, so followers in this process wake at once, and
mends eventsourcing's pool (``LeakFreeSQLiteConnectionPool``) so a burst that
exhausts it cannot leave the store unwritable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ConnectionUnavailableError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
)

from adapters.commit_signal import CommitSignal

_NO_CONNECTION_LEFT = "Timed out waiting for return of connection"
"""eventsourcing's message when the pool had no connection to hand out in time."""


class LeakFreeSQLiteConnectionPool(SQLiteConnectionPool):
    """eventsourcing's SQLite pool, giving back the writer lock when no connection came in time.

    eventsourcing 9.5 takes the writer lock (or counts a reader) before it
    waits for a free connection, and keeps it when that wait times out: after
    one writer timed out in a burst, every later write of the process waited
    for a lock nobody would release ("Timed out waiting for return of
    writer"), for good. This undoes the bookkeeping as ``put_connection``
    would have.
    """

    def get_connection(self, timeout: float | None = None, *, is_writer: bool | None = None) -> SQLiteConnection:
        """As eventsourcing's, but a timed-out wait leaves the writer lock and reader count as they were."""
        try:
            return super().get_connection(timeout, is_writer=is_writer)
        except ConnectionUnavailableError as exc:
            if str(exc) == _NO_CONNECTION_LEFT:
                if is_writer is True:
                    self._num_writers -= 1
                    self._writer_lock.release()
                elif is_writer is False:
                    with self._no_readers:
                        self._num_readers -= 1
                        if self._num_readers == 0 and self._mutually_exclusive_read_write:
                            self._no_readers.notify()
            raise


class BatchInsertSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """``SQLiteApplicationRecorder`` with a single-statement batch insert."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.commits = CommitSignal()
        # the factory built the pool; the mended class has the same state and only adds the cleanup
        datastore.pool.__class__ = LeakFreeSQLiteConnectionPool

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert (and commit), then wake this process's followers of the log at once."""
        notification_ids = super().insert_events(stored_events, **kwargs)
        self.commits.notify()
        return notification_ids

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **_: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        c.executemany(
            self.insert_events_statement,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    s.state,
                )
                for s in stored_events
            ],
        )
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))
