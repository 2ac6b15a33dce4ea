"""Read-model databases: SQLite (embedded) and PostgreSQL (schema ``read``).

A store creates the projections' tables (with their documentation as SQL
comments in PostgreSQL), applies a batch of events to one projection in ONE
transaction together with that projection's position in the log, skipping
events at or below the stored position (so redeliveries are harmless), and
rebuilds a projection into shadow tables that are swapped in atomically.

SQLite keeps the read models in ``<data dir>/read.sqlite3``, attached as
``read`` so projection SQL reads the same as on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import threading
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic_core import to_json

from adapters.kafka_topics import partition_for
from domain.json_values import finite_json
from projections.base import Projection, Table
from projections.envelope import EventEnvelope

SCHEMA = "read"
REBUILD_SUFFIX = "__rebuild"
LIVE_PARTITION = -1
"""Partition recorded for positions kept by the in-process dispatcher (no Kafka)."""

_PG_TYPES = {
    "text": "TEXT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "json": "JSONB",
    "timestamp": "TIMESTAMPTZ",
}
_SQLITE_TYPES = {
    "text": "TEXT",
    "int": "INTEGER",
    "float": "REAL",
    "bool": "BOOLEAN",
    "json": "TEXT",
    "timestamp": "TEXT",
}
_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")


class _Tx:
    """A read-model transaction (``projections.store.ReadModelTx``)."""

    def __init__(self, store: ReadStore, cursor: Any, suffix: str) -> None:
        self.dialect = store.dialect
        self._store = store
        self._cursor = cursor
        self._suffix = suffix

    def t(self, table: str) -> str:
        return f"{SCHEMA}.{table}{self._suffix}"

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._cursor.execute(self._store.sql(sql), params or {})

    def executemany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._cursor.executemany(self._store.sql(sql), rows)

    def fetchone(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        self._cursor.execute(self._store.sql(sql), params or {})
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._cursor.execute(self._store.sql(sql), params or {})
        return [dict(row) for row in self._cursor.fetchall()]

    def json(self, value: Any) -> Any:
        return self._store.json(value)

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool = True) -> None:
        if rows:
            self._store.upsert(self._cursor, self.t(table.name), table, rows, replace=replace)


def json_text(value: Any) -> str:
    """Compact JSON with sorted keys; non-finite floats as the strings ``"Infinity"``, ``"-Infinity"``, ``"NaN"``."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except ValueError:  # inf or nan somewhere: the rare slow path
        return json.dumps(finite_json(value), separators=(",", ":"), sort_keys=True, allow_nan=False)


def _conflict_clause(table: Table, replace: bool) -> str:
    keys = ", ".join(table.primary_key)
    updates = ", ".join(f"{c.name} = excluded.{c.name}" for c in table.columns if c.name not in table.primary_key)
    if replace and updates:
        return f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
    return f"ON CONFLICT ({keys}) DO NOTHING"


class ReadStore(ABC):
    """Where projections write and queries read."""

    dialect: str
    serialized = True
    """True when transactions share one connection and must take turns (SQLite)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- dialect ----------------------------------------------------------

    @abstractmethod
    def sql(self, statement: str) -> str:
        """``statement`` with ``:name`` parameters in this driver's style."""

    @abstractmethod
    def json(self, value: Any) -> Any:
        """A value for a JSON column."""

    @abstractmethod
    def upsert(self, cursor: Any, name: str, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool) -> None:
        """Bulk-write ``rows`` into the table called ``name`` (``ReadModelTx.upsert``)."""

    @abstractmethod
    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor inside a transaction that commits on success."""

    def _lock_projection(self, tx: _Tx, projection: str) -> None:
        """Serialise writers of one projection (live batches and a rebuild's swap)."""

    # -- public API ---------------------------------------------------------

    @contextmanager
    def transaction(self, *, rebuild: bool = False) -> Iterator[_Tx]:
        """A transaction over the live tables (or the shadow tables of a rebuild)."""
        with self._lock if self.serialized else nullcontext(), self._cursor() as cursor:
            yield _Tx(self, cursor, REBUILD_SUFFIX if rebuild else "")

    def create_tables(self, projections: Sequence[Projection]) -> None:
        """Create the positions table and every projection's tables (idempotent)."""
        with self.transaction() as tx:
            self._create_schema(tx)
            tx.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.projection_positions ("
                "projection TEXT NOT NULL, context TEXT NOT NULL, kafka_partition INTEGER NOT NULL, "
                "log_position BIGINT NOT NULL, kafka_offset BIGINT, "
                "PRIMARY KEY (projection, context, kafka_partition))"
            )
            for projection in projections:
                for table in projection.tables:
                    self._create_table(tx, table, "")

    def apply(self, projection: Projection, context: str, batch: Sequence[EventEnvelope]) -> int:
        """Apply the events above the stored position, and the new position, in one transaction.

        Returns how many events were applied (the rest were already applied).
        """
        if not batch:
            return 0
        with self.transaction() as tx:
            self._lock_projection(tx, projection.name)
            done = self._position(tx, projection.name, context)
            fresh = [event for event in batch if event.position > done]
            if fresh:
                projection.apply(fresh, tx)
                self._set_position(tx, projection.name, context, fresh[-1].position)
            return len(fresh)

    def positions(self, projection: str) -> dict[str, int]:
        """The last applied log position per context."""
        with self.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT context, log_position FROM {SCHEMA}.projection_positions "
                "WHERE projection = :projection AND kafka_partition = :partition",
                {"projection": projection, "partition": LIVE_PARTITION},
            )
        return {str(r["context"]): int(r["log_position"]) for r in rows}

    def partition_positions(self, projection: str) -> dict[tuple[str, int], int]:
        """The last applied log position per (context, Kafka partition); partition -1 is the in-process feed."""
        with self.transaction() as tx:
            return self._partition_rows(tx, projection)

    def has_applied(self, projection: str, context: str, position: int, partition: int | None) -> bool:
        """True once ``projection`` applied ``position`` of ``context`` (on ``partition`` when known)."""
        applied = self.partition_positions(projection)
        if partition is not None and (context, partition) in applied:
            return applied[(context, partition)] >= position
        return applied.get((context, LIVE_PARTITION), 0) >= position

    def apply_polled(
        self,
        projections: Sequence[Projection],
        polled: Sequence[tuple[str, int, list[EventEnvelope], int]],
    ) -> int:
        """Apply one Kafka poll — (context, partition, events, last offset) groups — in ONE transaction.

        Each projection skips events at or below its stored position for that
        partition, and stores its new position and the Kafka offset with the change.
        """
        applied = 0
        with self.transaction() as tx:
            for projection in sorted(projections, key=lambda p: p.name):
                self._lock_projection(tx, projection.name)
            for projection in projections:
                stored = self._partition_rows(tx, projection.name)
                for context in sorted(projection.contexts):
                    # one apply per context for the whole poll: an aggregate's events all sit in one
                    # partition, in order, so joining partitions keeps every aggregate's order
                    fresh: list[EventEnvelope] = []
                    positions: list[tuple[int, int, int]] = []
                    for group_context, partition, batch, last_offset in polled:
                        if group_context != context or not batch:
                            continue
                        done = stored.get((context, partition), 0)
                        fresh.extend(event for event in batch if event.position > done)
                        positions.append((partition, max(done, batch[-1].position), last_offset))
                    if fresh:
                        projection.apply(fresh, tx)
                        applied += len(fresh)
                    for partition, position, last_offset in positions:
                        self._set_position(tx, projection.name, context, position, partition, last_offset)
        return applied

    def kafka_offset(self, projections: Sequence[Projection], context: str, partition: int) -> int | None:
        """Where a consumer of ``context``/``partition`` resumes: the lowest next offset any projection needs."""
        with self.transaction() as tx:
            offsets = []
            for projection in projections:
                if context not in projection.contexts:
                    continue
                row = tx.fetchone(
                    f"SELECT kafka_offset FROM {SCHEMA}.projection_positions WHERE projection = :projection "
                    "AND context = :context AND kafka_partition = :partition",
                    {"projection": projection.name, "context": context, "partition": partition},
                )
                if row is None or row["kafka_offset"] is None:
                    return None  # this projection has nothing from the partition yet: start at the beginning
                offsets.append(int(row["kafka_offset"]) + 1)
        return min(offsets) if offsets else None

    def rows(self, table: str, order_by: str) -> list[dict[str, Any]]:
        """Every row of a live table (for comparisons and exports)."""
        with self.transaction() as tx:
            return tx.fetchall(f"SELECT * FROM {SCHEMA}.{table} ORDER BY {order_by}")

    # -- rebuild --------------------------------------------------------------

    def start_rebuild(self, projection: Projection) -> None:
        """Fresh, empty shadow tables for ``projection``."""
        with self.transaction(rebuild=True) as tx:
            for table in projection.tables:
                tx.execute(f"DROP TABLE IF EXISTS {tx.t(table.name)}")
                self._create_table(tx, table, REBUILD_SUFFIX)
            tx.execute(
                f"DELETE FROM {SCHEMA}.projection_positions WHERE projection = :projection",
                {"projection": projection.name + REBUILD_SUFFIX},
            )

    def apply_rebuild(self, projection: Projection, context: str, batch: Sequence[EventEnvelope]) -> None:
        """Apply a replayed batch to the shadow tables."""
        if not batch:
            return
        with self.transaction(rebuild=True) as tx:
            projection.apply(list(batch), tx)
            self._set_position(tx, projection.name + REBUILD_SUFFIX, context, batch[-1].position)

    def rebuild(
        self,
        projection: Projection,
        read: Callable[[str, int, int], list[EventEnvelope]],
        progress: Callable[[int], None] | None = None,
        batch_size: int = 2000,
        kafka_partitions: int | None = None,
    ) -> dict[str, int]:
        """Replay the event store into shadow tables, then swap them in atomically.

        ``read(context, after_position, limit)`` returns stored events in log
        order. The live projector keeps applying batches meanwhile; at the
        end, under the projection's lock, the shadow tables catch up with the
        live positions (per Kafka partition when the live projector consumes
        Kafka: pass the topics' ``kafka_partitions``) and replace the live
        tables in one transaction, so readers never see a half-built table and
        the live projector carries on from its positions. With Kafka, every
        partition gets a position, also those no live projector has consumed
        yet, so a projector starting on them later skips what the rebuild
        already holds. Returns the positions the rebuilt tables reached.
        """
        advance = progress or (lambda _: None)
        self.start_rebuild(projection)
        reached = dict.fromkeys(projection.contexts, 0)
        # the next batch is read while the current one is written: the event store and the
        # read-model database work at the same time (both release the GIL while they wait)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-read") as reader:
            for context in sorted(projection.contexts):
                upcoming = reader.submit(read, context, 0, batch_size)
                while batch := upcoming.result():
                    upcoming = reader.submit(read, context, batch[-1].position, batch_size)
                    self.apply_rebuild(projection, context, batch)
                    reached[context] = batch[-1].position
                    advance(len(batch))
        with self.transaction(rebuild=True) as tx:
            self._lock_projection(tx, projection.name)
            live = self._partition_rows(tx, projection.name)
            for context in sorted(projection.contexts):
                ours = {k: v for k, v in live.items() if k[0] == context}
                target = max(ours.values(), default=0)
                cursor = reached[context]
                while cursor < target:
                    batch = read(context, cursor, batch_size)
                    if not batch:
                        break
                    cursor = batch[-1].position
                    wanted = [e for e in batch if e.position <= self._live_limit(ours, context, e, kafka_partitions)]
                    if wanted:
                        projection.apply(wanted, tx)
                        advance(len(wanted))
                # every event up to reached[context] is in the shadow tables, and the live ones past it too
                keys = set(ours)
                if kafka_partitions:
                    keys |= {(context, partition) for partition in range(kafka_partitions)}
                for ctx, partition in sorted(keys) or [(context, LIVE_PARTITION)]:
                    position = max(ours.get((ctx, partition), 0), reached[context])
                    self._set_position(tx, projection.name, ctx, position, partition)
                reached[context] = max(reached[context], target)
            for table in projection.tables:
                tx.execute(f"DROP TABLE {SCHEMA}.{table.name}")
                self._rename(tx, table.name + REBUILD_SUFFIX, table.name)
            tx.execute(
                f"DELETE FROM {SCHEMA}.projection_positions WHERE projection = :projection",
                {"projection": projection.name + REBUILD_SUFFIX},
            )
        return reached

    @staticmethod
    def _live_limit(
        ours: dict[tuple[str, int], int],
        context: str,
        event: EventEnvelope,
        kafka_partitions: int | None,
    ) -> int:
        """Up to which position the live tables hold events of ``event``'s partition."""
        if (context, LIVE_PARTITION) in ours:
            return ours[(context, LIVE_PARTITION)]
        partition = partition_for(event.routing_key, kafka_partitions) if kafka_partitions else LIVE_PARTITION
        return ours.get((context, partition), 0)

    # -- helpers ----------------------------------------------------------------

    def _position(self, tx: _Tx, projection: str, context: str, partition: int = LIVE_PARTITION) -> int:
        row = tx.fetchone(
            f"SELECT log_position FROM {SCHEMA}.projection_positions "
            "WHERE projection = :projection AND context = :context AND kafka_partition = :partition",
            {"projection": projection, "context": context, "partition": partition},
        )
        return int(row["log_position"]) if row else 0

    def _set_position(
        self,
        tx: _Tx,
        projection: str,
        context: str,
        position: int,
        partition: int = LIVE_PARTITION,
        kafka_offset: int | None = None,
    ) -> None:
        tx.execute(
            f"INSERT INTO {SCHEMA}.projection_positions "
            "(projection, context, kafka_partition, log_position, kafka_offset) "
            "VALUES (:projection, :context, :partition, :position, :offset) "
            "ON CONFLICT (projection, context, kafka_partition) DO UPDATE SET log_position = excluded.log_position, "
            "kafka_offset = COALESCE(excluded.kafka_offset, "
            f"{SCHEMA}.projection_positions.kafka_offset)",
            {
                "projection": projection,
                "context": context,
                "partition": partition,
                "position": position,
                "offset": kafka_offset,
            },
        )

    def _partition_rows(self, tx: _Tx, projection: str) -> dict[tuple[str, int], int]:
        rows = tx.fetchall(
            f"SELECT context, kafka_partition, log_position FROM {SCHEMA}.projection_positions "
            "WHERE projection = :projection",
            {"projection": projection},
        )
        return {(str(r["context"]), int(r["kafka_partition"])): int(r["log_position"]) for r in rows}

    def _create_schema(self, tx: _Tx) -> None:
        """Create the ``read`` schema where the database has schemas."""

    def _create_table(self, tx: _Tx, table: Table, suffix: str) -> None:
        if self._table_exists(tx, table.name + suffix):
            return
        types = _PG_TYPES if self.dialect == "postgresql" else _SQLITE_TYPES
        columns = ", ".join(f"{c.name} {types[c.kind]}" for c in table.columns)
        name = f"{SCHEMA}.{table.name}{suffix}"
        tx.execute(f"CREATE TABLE {name} ({columns}, PRIMARY KEY ({', '.join(table.primary_key)}))")
        for index in table.indexes:
            self._create_index(tx, table.name + suffix, index)
        self._comment(tx, table, name)

    @abstractmethod
    def _table_exists(self, tx: _Tx, table: str) -> bool:
        """True when ``read.<table>`` exists."""

    @abstractmethod
    def _create_index(self, tx: _Tx, table: str, columns: tuple[str, ...]) -> None:
        """Index a freshly created table (names must not collide after a rename)."""

    def _comment(self, tx: _Tx, table: Table, name: str) -> None:
        """Publish the table's documentation where the database keeps comments."""

    def _rename(self, tx: _Tx, old: str, new: str) -> None:
        tx.execute(f"ALTER TABLE {SCHEMA}.{old} RENAME TO {new}")

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class SQLiteReadStore(ReadStore):
    """Read models in a SQLite file, attached as schema ``read``."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"ATTACH DATABASE ? AS {SCHEMA}", (str(path),))
        self._conn.execute(f"PRAGMA {SCHEMA}.journal_mode=WAL")
        self._conn.execute(f"PRAGMA {SCHEMA}.synchronous=NORMAL")

    def sql(self, statement: str) -> str:
        return statement  # sqlite3 takes :name parameters as they are

    def json(self, value: Any) -> Any:
        return None if value is None else json_text(value)

    def upsert(self, cursor: Any, name: str, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool) -> None:
        columns = [c.name for c in table.columns]
        encoded = {c.name for c in table.columns if c.kind == "json"}
        cursor.executemany(
            f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
            + _conflict_clause(table, replace),
            [tuple(self.json(row.get(c)) if c in encoded else row.get(c) for c in columns) for row in rows],
        )

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

    def _table_exists(self, tx: _Tx, table: str) -> bool:
        found = tx.fetchone(
            f"SELECT name FROM {SCHEMA}.sqlite_master WHERE type = 'table' AND name = :name", {"name": table}
        )
        return found is not None

    def _create_index(self, tx: _Tx, table: str, columns: tuple[str, ...]) -> None:
        # a random part: a shadow table renamed into place keeps its index names
        index = f"{table}__{'_'.join(columns)}__{secrets.token_hex(3)}"
        tx.execute(f"CREATE INDEX {SCHEMA}.{index} ON {table} ({', '.join(columns)})")

    def close(self) -> None:
        self._conn.close()


class PostgresReadStore(ReadStore):
    """Read models in the ``read`` schema of a PostgreSQL database.

    Transactions come from a small connection pool, so API queries run beside
    the projector's batches instead of queueing behind them (writers of one
    projection still exclude each other through an advisory lock). Its
    connections are named ``agentgraph-read-<pid>`` in ``pg_stat_activity``.
    """

    dialect = "postgresql"
    serialized = False

    def __init__(self, dsn: str, *, pool_size: int = 8) -> None:
        super().__init__()
        self.application_name = f"agentgraph-read-{os.getpid()}"
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"row_factory": dict_row, "autocommit": False, "application_name": self.application_name},
            name=self.application_name,
            open=True,
        )
        self._pool.wait(timeout=30)

    def sql(self, statement: str) -> str:
        return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))

    def json(self, value: Any) -> Any:
        return None if value is None else Jsonb(value, dumps=_pg_json)

    def upsert(self, cursor: Any, name: str, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool) -> None:
        # one statement whatever the row count: a typed array per column (dumped in C, binary), unnested
        arrays = [_pg_array(column.kind, [row.get(column.name) for row in rows]) for column in table.columns]
        selects = ", ".join(f"%b::{_PG_ARRAY_CASTS[column.kind]}" for column in table.columns)
        columns = ", ".join(column.name for column in table.columns)
        cursor.execute(
            f"INSERT INTO {name} ({columns}) SELECT * FROM unnest({selects}) {_conflict_clause(table, replace)}",
            arrays,
        )

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        # the pool replaces connections that broke (a database restart) when they are handed back
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def _lock_projection(self, tx: _Tx, projection: str) -> None:
        # across processes: live projector batches and a rebuild's swap exclude each other
        tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": zlib.crc32(f"projection:{projection}".encode())})

    def _create_schema(self, tx: _Tx) -> None:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        tx.execute(
            f"COMMENT ON SCHEMA {SCHEMA} IS 'agentgraph read models (projections of the event stores); "
            "rebuildable at any time with: agentgraph projections rebuild'"
        )

    def _table_exists(self, tx: _Tx, table: str) -> bool:
        found = tx.fetchone("SELECT to_regclass(:name) AS oid", {"name": f"{SCHEMA}.{table}"})
        return bool(found and found["oid"])

    def _create_index(self, tx: _Tx, table: str, columns: tuple[str, ...]) -> None:
        # unnamed: PostgreSQL picks a free name, so shadow tables renamed into place never collide
        tx.execute(f"CREATE INDEX ON {SCHEMA}.{table} ({', '.join(columns)})")

    def _comment(self, tx: _Tx, table: Table, name: str) -> None:
        tx.execute(f"COMMENT ON TABLE {name} IS {_literal(table.comment)}")
        for column in table.columns:
            tx.execute(f"COMMENT ON COLUMN {name}.{column.name} IS {_literal(column.comment)}")

    def close(self) -> None:
        self._pool.close()


_PG_ARRAY_CASTS = {
    "text": "text[]",
    "int": "bigint[]",
    "float": "float8[]",
    "bool": "bool[]",
    "json": "text[]::jsonb[]",
    "timestamp": "text[]::timestamptz[]",
}


def _pg_json(value: Any) -> bytes:
    return to_json(value, inf_nan_mode="strings", fallback=str)


def _pg_array(kind: str, values: list[Any]) -> list[Any]:
    """Values of one column, each coerced to the column's type (psycopg dumps a list as one array)."""
    if kind == "json":
        return [None if v is None else _pg_json(v).decode() for v in values]
    if kind in ("text", "timestamp"):
        return [None if v is None else str(v) for v in values]
    if kind == "float":
        return [None if v is None else float(v) for v in values]
    if kind == "int":
        return [None if v is None else int(v) for v in values]
    return [None if v is None else bool(v) for v in values]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
