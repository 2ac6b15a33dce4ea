"""The key table: each user's data keys, wrapped by a master key (``application.encryption.DataKeyStore``).

It sits beside the accounts event store, outside the append-only log, so a
row can really be deleted (crypto-shredding): ``user_data_keys`` in
PostgreSQL (made by ``agentgraph db init``), ``keys.sqlite3`` in the data
folder when embedded. Rows hold wrapped keys only; the master keys never
touch a database.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg

from adapters.settings import Settings
from application.encryption import DataKeyStore, StoredDataKey

TABLE = "user_data_keys"
_COLUMNS = "data_key_id, user_id, master_kid, wrapped"
_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (data_key_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, "
    "master_kid TEXT NOT NULL, wrapped {blob} NOT NULL)"
)
_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_user_id ON {TABLE} (user_id)"


def _row(row: Any) -> StoredDataKey:
    return StoredDataKey(str(row[0]), str(row[1]), str(row[2]), bytes(row[3]))


class SQLiteDataKeyStore:
    """``keys.sqlite3`` in the data folder (embedded mode)."""

    def __init__(self, path: Path, *, create_table: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        if create_table:
            self._db.execute(_DDL.format(blob="BLOB"))
            self._db.execute(_INDEX)

    def put(self, key: StoredDataKey) -> None:
        """Insert or replace ``key``'s row."""
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?)",
                (key.data_key_id, key.user_id, key.master_kid, key.wrapped),
            )

    def get(self, data_key_id: str) -> StoredDataKey | None:
        """One row."""
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE data_key_id = ?", (data_key_id,)).fetchone()
        return _row(row) if row else None

    def all_keys(self) -> list[StoredDataKey]:
        """Every row."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY data_key_id").fetchall()
        return [_row(row) for row in rows]

    def delete(self, data_key_id: str) -> None:
        """Delete one row."""
        with self._lock:
            self._db.execute(f"DELETE FROM {TABLE} WHERE data_key_id = ?", (data_key_id,))

    def delete_user(self, user_id: str) -> int:
        """Delete the user's rows (and let SQLite reuse the pages: ``secure_delete`` zeroes them)."""
        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")
            return self._db.execute(f"DELETE FROM {TABLE} WHERE user_id = ?", (user_id,)).rowcount

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


class PostgresDataKeyStore:
    """``user_data_keys`` in the PostgreSQL database of the event stores (one connection, opened on first use)."""

    def __init__(self, dsn: str, *, create_table: bool = True) -> None:
        self._dsn = dsn
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        if create_table:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(_DDL.format(blob="BYTEA"))
                conn.execute(_INDEX)

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> psycopg.Cursor[Any]:
        # callers hold the lock; a broken connection is replaced on the next call
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True)
        try:
            return self._conn.execute(sql, params)
        except psycopg.OperationalError:
            self._conn.close()
            self._conn = None
            raise

    def put(self, key: StoredDataKey) -> None:
        """Insert or replace ``key``'s row."""
        with self._lock:
            self._run(
                f"INSERT INTO {TABLE} ({_COLUMNS}) VALUES (%s, %s, %s, %s) ON CONFLICT (data_key_id) DO UPDATE "
                "SET master_kid = EXCLUDED.master_kid, wrapped = EXCLUDED.wrapped",
                (key.data_key_id, key.user_id, key.master_kid, key.wrapped),
            )

    def get(self, data_key_id: str) -> StoredDataKey | None:
        """One row."""
        with self._lock:
            row = self._run(f"SELECT {_COLUMNS} FROM {TABLE} WHERE data_key_id = %s", (data_key_id,)).fetchone()
        return _row(row) if row else None

    def all_keys(self) -> list[StoredDataKey]:
        """Every row."""
        with self._lock:
            rows = self._run(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY data_key_id").fetchall()
        return [_row(row) for row in rows]

    def delete(self, data_key_id: str) -> None:
        """Delete one row."""
        with self._lock:
            self._run(f"DELETE FROM {TABLE} WHERE data_key_id = %s", (data_key_id,))

    def delete_user(self, user_id: str) -> int:
        """Delete the user's rows."""
        with self._lock:
            return self._run(f"DELETE FROM {TABLE} WHERE user_id = %s", (user_id,)).rowcount

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def build_data_key_store(settings: Settings, *, create_table: bool = True) -> DataKeyStore:
    """The key table of this deployment."""
    if settings.database_url:
        return PostgresDataKeyStore(settings.database_url, create_table=create_table)
    return SQLiteDataKeyStore(settings.data_dir / "keys.sqlite3", create_table=create_table)
