"""A SQLite application recorder that inserts a batch with one ``executemany``.

eventsourcing's SQLite recorder runs one ``execute`` per event through a
Python wrapper to read each row id; for the executor's large batches that
per-row overhead dominates. Inside the write transaction (SQLite has one
writer at a time) the rows of one ``executemany`` get consecutive row ids,
so the notification ids are the ``n`` ids ending at ``last_insert_rowid()``.

It also owns the log's ``commits`` signal (``adapters.commit_signal``),
notified after each commit, so followers in this process wake at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from adapters.commit_signal import CommitSignal


class BatchInsertSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """``SQLiteApplicationRecorder`` with a single-statement batch insert."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.commits = CommitSignal()

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
