"""Read models in a SQLite file (embedded mode), attached as schema ``read``.

The read models live in ``<data dir>/read.sqlite3``, attached to an
in-memory connection as ``read`` so projection SQL reads the same as on
PostgreSQL. One connection serves every transaction, one at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from adapters.read_store.dialect import SCHEMA, SQLITE
from adapters.read_store.store import ReadStore, ReadTransaction


class SQLiteReadStore(ReadStore):
    """Read models in a SQLite file, attached as schema ``read``."""

    sql = SQLITE

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (str(path),))
        self._conn.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL")
        self._conn.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL")

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        cursor = self._conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        else:
            cursor.execute("COMMIT")
        finally:
            cursor.close()

    def _table_exists(self, tx: ReadTransaction, table: str) -> bool:
        found = tx.fetchone(
            f"SELECT name FROM {SCHEMA}.sqlite_master WHERE type = 'table' AND name = :name", {"name": table}
        )
        return found is not None

    def is_database_failure(self, error: BaseException) -> bool:
        # a locked, missing or closed database, or a disk that fails; never an event's values
        database = (sqlite3.OperationalError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
        return isinstance(error, database) or super().is_database_failure(error)

    def close(self) -> None:
        self._conn.close()
