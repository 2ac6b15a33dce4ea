"""A read store: transactions over read-model tables, batches applied with their positions.

A store creates the projections' tables, applies a batch of events to one
projection in ONE transaction together with that projection's position in
the log, skipping events at or below the stored position (so redeliveries are
harmless), and keeps the shadow tables a rebuild fills before they are
swapped in (``adapters.read_store.rebuild`` drives that). The databases
themselves are in ``sqlite`` and ``postgres`` beside this module.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import adapters.read_store.positions as positions
from adapters.read_store.dialect import SCHEMA, SQLDialect, core_table
from adapters.read_store.positions import LIVE_PARTITION, POSITIONS
from projections.base import Projection
from projections.envelope import EventEnvelope
from projections.schema import Table

REBUILD_SUFFIX = "__rebuild"
"""Suffix of a rebuild's shadow tables (and of its positions' projection name)."""


class ReadTransaction:
    """One read-model transaction on a driver cursor (``projections.store.ReadModelTx``)."""

    def __init__(self, sql: SQLDialect, cursor: Any, suffix: str = "") -> None:
        self.dialect = sql.name
        self._sql = sql
        self._cursor = cursor
        self._suffix = suffix

    def t(self, table: str) -> str:
        return f"{SCHEMA}.{table}{self._suffix}"

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self._cursor.execute(self._sql.statement(sql), params or {})

    def executemany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            self._cursor.executemany(self._sql.statement(sql), rows)

    def columns(self, table: str) -> set[str]:
        """The column names ``read.<table>`` has in the database."""
        self._cursor.execute(self._sql.statement(f"SELECT * FROM {SCHEMA}.{table} WHERE 1 = 0"), {})
        names = {column[0] for column in self._cursor.description}
        self._cursor.fetchall()
        return names

    def fetchone(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        self._cursor.execute(self._sql.statement(sql), params or {})
        row = self._cursor.fetchone()
        return dict(row) if row is not None else None

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self._cursor.execute(self._sql.statement(sql), params or {})
        return [dict(row) for row in self._cursor.fetchall()]

    def json(self, value: Any) -> Any:
        return self._sql.json(value)

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool = True) -> None:
        if rows:
            self._sql.upsert(self._cursor, table, self._suffix, rows, replace=replace)

    def run_compiled(self, statement: str) -> None:
        """Run a statement compiled by the dialect layer (DDL), as it is."""
        # an empty parameter dict: psycopg then reads the doubled ``%`` the compiler wrote
        self._cursor.execute(statement, {})


class ReadStore(ABC):
    """Where projections write and queries read."""

    sql: SQLDialect
    serialized = True
    """True when transactions share one connection and must take turns (SQLite)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.sql.name

    @contextmanager
    def transaction(self, *, rebuild: bool = False) -> Iterator[ReadTransaction]:
        """A transaction over the live tables (or the shadow tables of a rebuild)."""
        with self._lock if self.serialized else nullcontext(), self._cursor() as cursor:
            yield ReadTransaction(self.sql, cursor, REBUILD_SUFFIX if rebuild else "")

    def create_tables(self, projections: Sequence[Projection]) -> None:
        """Create the positions table and every projection's tables (idempotent)."""
        with self.transaction() as tx:
            self._create_schema(tx)
            if not self._table_exists(tx, POSITIONS.name):
                for statement in self.sql.create_table(POSITIONS):
                    tx.run_compiled(statement)
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
            self.lock_projection(tx, projection.name)
            done = positions.position(tx, projection.name, context)
            fresh = [event for event in batch if event.position > done]
            if fresh:
                projection.apply(fresh, tx)
                positions.save(tx, projection.name, context, fresh[-1].position)
            return len(fresh)

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
                self.lock_projection(tx, projection.name)
            for projection in projections:
                stored = positions.by_partition(tx, projection.name)
                for context in sorted(projection.contexts):
                    # one apply per context for the whole poll: an aggregate's events all sit in one
                    # partition, in order, so joining partitions keeps every aggregate's order
                    fresh: list[EventEnvelope] = []
                    reached: list[tuple[int, int, int]] = []
                    for group_context, partition, batch, last_offset in polled:
                        if group_context != context or not batch:
                            continue
                        done = stored.get((context, partition), 0)
                        fresh.extend(event for event in batch if event.position > done)
                        reached.append((partition, max(done, batch[-1].position), last_offset))
                    if fresh:
                        projection.apply(fresh, tx)
                        applied += len(fresh)
                    for partition, position, last_offset in reached:
                        positions.save(tx, projection.name, context, position, partition, last_offset)
        return applied

    def positions(self, projection: str) -> dict[str, int]:
        """The last applied log position per context (in-process feed)."""
        with self.transaction() as tx:
            applied = positions.by_partition(tx, projection)
        return {context: position for (context, partition), position in applied.items() if partition == LIVE_PARTITION}

    def partition_positions(self, projection: str) -> dict[tuple[str, int], int]:
        """The last applied log position per (context, Kafka partition); partition -1 is the in-process feed."""
        with self.transaction() as tx:
            return positions.by_partition(tx, projection)

    def has_applied(self, projection: str, context: str, position: int, partition: int | None) -> bool:
        """True once ``projection`` applied ``position`` of ``context`` (on ``partition`` when known)."""
        applied = self.partition_positions(projection)
        if partition is not None and (context, partition) in applied:
            return applied[(context, partition)] >= position
        return applied.get((context, LIVE_PARTITION), 0) >= position

    def kafka_offset(self, projections: Sequence[Projection], context: str, partition: int) -> int | None:
        """Where a consumer of ``context``/``partition`` resumes: the lowest next offset any projection needs."""
        offsets = []
        with self.transaction() as tx:
            for projection in projections:
                if context not in projection.contexts:
                    continue
                offset = positions.kafka_offset(tx, projection.name, context, partition)
                if offset is None:
                    return None  # this projection has nothing from the partition yet: start at the beginning
                offsets.append(offset + 1)
        return min(offsets) if offsets else None

    # -- shadow tables of a rebuild ------------------------------------------

    def start_rebuild(self, projection: Projection) -> None:
        """Fresh, empty shadow tables for ``projection``."""
        with self.transaction(rebuild=True) as tx:
            for table in projection.tables:
                tx.execute(f"DROP TABLE IF EXISTS {tx.t(table.name)}")
                self._create_table(tx, table, REBUILD_SUFFIX)
            positions.forget(tx, projection.name + REBUILD_SUFFIX)

    def apply_rebuild(self, projection: Projection, context: str, batch: Sequence[EventEnvelope]) -> None:
        """Apply a replayed batch to the shadow tables."""
        if not batch:
            return
        with self.transaction(rebuild=True) as tx:
            projection.apply(list(batch), tx)
            positions.save(tx, projection.name + REBUILD_SUFFIX, context, batch[-1].position)

    def swap_in(self, tx: ReadTransaction, projection: Projection) -> None:
        """Inside ``tx``: replace the live tables of ``projection`` with its shadow tables."""
        for table in projection.tables:
            tx.execute(f"DROP TABLE {SCHEMA}.{table.name}")
            tx.execute(f"ALTER TABLE {SCHEMA}.{table.name}{REBUILD_SUFFIX} RENAME TO {table.name}")
        positions.forget(tx, projection.name + REBUILD_SUFFIX)

    def lock_projection(self, tx: ReadTransaction, projection: str) -> None:
        """Serialise writers of one projection (live batches and a rebuild's swap) until ``tx`` ends."""

    # -- the database ---------------------------------------------------------

    def _create_table(self, tx: ReadTransaction, table: Table, suffix: str) -> None:
        core = core_table(table, suffix, with_indexes=True)
        if self._table_exists(tx, table.name + suffix):
            # a table made by an earlier release: add the columns declared since
            missing = [c.name for c in table.columns if c.name not in tx.columns(table.name + suffix)]
            statements = self.sql.add_columns(core, missing)
        else:
            statements = self.sql.create_table(core)
        for statement in statements:
            tx.run_compiled(statement)

    def _create_schema(self, tx: ReadTransaction) -> None:
        """Create the ``read`` schema where the database has schemas."""

    @abstractmethod
    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor inside a transaction that commits on success."""

    @abstractmethod
    def _table_exists(self, tx: ReadTransaction, table: str) -> bool:
        """True when ``read.<table>`` exists."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
