"""A read store: transactions over read-model tables, batches applied with their positions.

A store creates the projections' tables, applies a batch of events to one
projection in ONE transaction together with that projection's position in
the log, skipping events at or below the stored position (so redeliveries are
harmless), and keeps the shadow tables a rebuild fills before they are
swapped in (``adapters.read_store.rebuild`` drives that). The databases
themselves are in ``sqlite`` and ``postgres`` beside this module.

No event stops a projection (``projections.dead_letters``): a batch is
applied under a savepoint; when it fails because of an event (not because
the database fails: that is retried as long as it takes, never parked),
the first failing event is found by applying halves of the batch, the
events before it are kept, and the failure is raised so the caller retries
with the retry policy's back-off (``application.retry``). On its
``PARK_AFTER``-th failure the event is parked instead, in the same
transaction that applies the rest of the batch and moves the position past it.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import adapters.read_store.dead_letters as dead_letters
import adapters.read_store.positions as positions
from adapters.read_store.dead_letters import DEAD_LETTERS, DeadLetter
from adapters.read_store.dialect import SCHEMA, SQLDialect, core_table
from adapters.read_store.positions import LIVE_PARTITION, POSITIONS
from projections.base import Projection
from projections.dead_letters import UnreadableEvent
from projections.envelope import EventEnvelope
from projections.schema import Table

log = logging.getLogger(__name__)

PARK_AFTER = 3
"""Failures of one event (retried with the retry policy's back-off: 0.2 s, then 0.4 s) before it is parked."""

REBUILD_SUFFIX = "__rebuild"
"""Suffix of a rebuild's shadow tables (and of its positions' projection name)."""


class EventNotAppliedError(Exception):
    """A projection failed on an event that is not parked yet: retry the batch after a back-off."""


@dataclass
class _Failures:
    """How often an event failed to apply, in this process (parking writes it down)."""

    first: str = field(default_factory=dead_letters.now)
    attempts: int = 0


@dataclass(frozen=True)
class _Parked:
    """An event parked in a transaction not committed yet."""

    key: tuple[str, str, int]
    event: EventEnvelope
    attempts: int
    error: str


@dataclass
class RetryOutcome:
    """What ``ReadStore.retry_parked`` did."""

    applied: list[DeadLetter] = field(default_factory=list)
    """Parked events now applied (their rows are gone)."""
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    """Parked events that failed again, with the error (their aggregate's later events stay parked behind them)."""


def describe(error: BaseException | str) -> str:
    """An error as a dead-letter row shows it."""
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"[:2000]


@contextmanager
def _savepoint(tx: ReadTransaction) -> Iterator[None]:
    """Undo what the block wrote if it raises, and only that (the transaction goes on)."""
    tx.execute("SAVEPOINT apply_events")
    try:
        yield
    except BaseException:
        tx.execute("ROLLBACK TO SAVEPOINT apply_events")
        tx.execute("RELEASE SAVEPOINT apply_events")
        raise
    tx.execute("RELEASE SAVEPOINT apply_events")


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
        self._failures: dict[tuple[str, str, int], _Failures] = {}

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
            for core in (POSITIONS, DEAD_LETTERS):
                if not self._table_exists(tx, core.name):
                    for statement in self.sql.create_table(core):
                        tx.run_compiled(statement)
            for projection in projections:
                for table in projection.tables:
                    self._create_table(tx, table, "")

    def apply(self, projection: Projection, context: str, batch: Sequence[EventEnvelope]) -> int:
        """Apply the events above the stored position, and the new position, in one transaction.

        Returns how many events were applied (the rest were already applied,
        or parked). Raises ``EventNotAppliedError`` for an event that failed but
        is not parked yet (nothing is written then: retry after a back-off).
        """
        if not batch:
            return 0
        with self.transaction() as tx:
            self.lock_projection(tx, projection.name)
            done = positions.position(tx, projection.name, context)
            fresh = [event for event in batch if event.position > done]
            if not fresh:
                return 0
            parked: list[_Parked] = []
            applied = self._apply_parking(tx, projection, context, fresh, parked)
            positions.save(tx, projection.name, context, fresh[-1].position)
        self._parked(parked)
        return applied

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
        parked: list[_Parked] = []
        failed: list[EventNotAppliedError] = []
        with self.transaction() as tx:
            for projection in sorted(projections, key=lambda p: p.name):
                self.lock_projection(tx, projection.name)
            for projection in projections:
                # each projection in a savepoint: one that fails on an event lets the others try it in
                # the same attempt, so every projection counts its failures, and parks, in step
                try:
                    with _savepoint(tx):
                        applied += self._apply_poll(tx, projection, polled, parked)
                except EventNotAppliedError as error:
                    failed.append(error)
            if failed:
                raise failed[0]  # nothing of the poll is written: the whole poll is retried after a back-off
        self._parked(parked)
        return applied

    def _apply_poll(
        self,
        tx: ReadTransaction,
        projection: Projection,
        polled: Sequence[tuple[str, int, list[EventEnvelope], int]],
        parked: list[_Parked],
    ) -> int:
        """``apply_polled`` for one projection, inside ``tx``."""
        applied = 0
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
                applied += self._apply_parking(tx, projection, context, fresh, parked)
            for partition, position, last_offset in reached:
                positions.save(tx, projection.name, context, position, partition, last_offset)
        return applied

    # -- parking ---------------------------------------------------------------

    def is_database_failure(self, error: BaseException) -> bool:
        """True when ``error`` says the database failed (retried as long as it takes, never parked)."""
        return isinstance(error, OSError)

    def _apply_parking(
        self,
        tx: ReadTransaction,
        projection: Projection,
        context: str,
        events: Sequence[EventEnvelope],
        parked: list[_Parked],
    ) -> int:
        """Apply ``events`` inside ``tx``, parking those that failed ``PARK_AFTER`` times; returns how many applied.

        Events of an aggregate with a parked event are parked behind it (its order is kept).
        What this parks is added to ``parked``: once ``tx`` committed, ``_parked`` logs it.
        """
        held = dead_letters.held_aggregates(tx, projection.name, context)
        applied = 0
        i = 0
        while i < len(events):
            event = events[i]
            if event.aggregate_id in held:
                first = held[event.aggregate_id]
                dead_letters.park(
                    tx,
                    projection.name,
                    event,
                    error=dead_letters.held_error(first),
                    attempts=0,
                    first_failure=dead_letters.now(),
                    held_behind=first,
                )
                i += 1
                continue
            end = i
            while end < len(events) and events[end].aggregate_id not in held:
                if isinstance(events[end], UnreadableEvent):
                    break
                end += 1
            error: BaseException | str | None = event.error if isinstance(event, UnreadableEvent) else None
            if end > i:
                done, error = self._apply_until_failure(tx, projection, events[i:end])
                self._forget_failures(projection, events[i : i + done])
                applied += done
                i += done
                if error is None:
                    continue
            assert error is not None
            poison = events[i]
            parked.append(self._park_or_raise(tx, projection, poison, error))
            held[poison.aggregate_id] = poison.position
            i += 1
        return applied

    def _apply_until_failure(
        self, tx: ReadTransaction, projection: Projection, events: Sequence[EventEnvelope]
    ) -> tuple[int, BaseException | None]:
        """Apply the longest run of ``events`` that applies; returns its length and the next event's error."""
        try:
            with _savepoint(tx):
                projection.apply(list(events), tx)
            return len(events), None
        except Exception as failure:
            if self.is_database_failure(failure):
                raise
            if len(events) == 1:
                return 0, failure
        # projections do not depend on where batches start and end: halve until the failing event is alone
        half = len(events) // 2
        done, error = self._apply_until_failure(tx, projection, events[:half])
        if error is not None:
            return done, error
        rest, error = self._apply_until_failure(tx, projection, events[half:])
        return half + rest, error

    def _park_or_raise(
        self, tx: ReadTransaction, projection: Projection, event: EventEnvelope, error: BaseException | str
    ) -> _Parked:
        key = (projection.name, event.context, event.position)
        failures = self._failures.setdefault(key, _Failures())
        failures.attempts += 1
        if failures.attempts < PARK_AFTER:
            raise EventNotAppliedError(
                f"projection {projection.name} cannot apply {event.type} at {event.context} position "
                f"{event.position} (failure {failures.attempts} of {PARK_AFTER} before it is parked): {describe(error)}"
            ) from (error if isinstance(error, BaseException) else None)
        dead_letters.park(
            tx, projection.name, event, error=describe(error), attempts=failures.attempts, first_failure=failures.first
        )
        return _Parked(key, event, failures.attempts, describe(error))

    def _parked(self, parked: list[_Parked]) -> None:
        """The transaction that parked these committed: log each once, forget its failures."""
        for done in parked:
            self._failures.pop(done.key, None)
            log.error(
                "projection %s parked %s at %s position %d (aggregate %s) after %d failures: %s; "
                "the aggregate's later events wait behind it (agentgraph projections dead-letters / retry)",
                done.key[0],
                done.event.type,
                done.event.context,
                done.event.position,
                done.event.aggregate_id,
                done.attempts,
                done.error,
            )

    def _forget_failures(self, projection: Projection, applied: Sequence[EventEnvelope]) -> None:
        if self._failures:  # an event that failed before applies now (its failure passed)
            for event in applied:
                self._failures.pop((projection.name, event.context, event.position), None)

    def dead_letters(self) -> list[DeadLetter]:
        """Every parked event."""
        with self.transaction() as tx:
            return dead_letters.listed(tx)

    def parked_counts(self) -> dict[tuple[str, str], int]:
        """(projection, context) -> how many events are parked."""
        with self.transaction() as tx:
            return dead_letters.counts(tx)

    def retry_parked(
        self,
        projections: Sequence[Projection],
        read: Callable[[str, int], EventEnvelope | None],
        ids: list[int] | None = None,
    ) -> RetryOutcome:
        """Apply parked events again (those numbered ``ids``, or all), reading them from the event store.

        A retry takes whole aggregates: naming one parked event of an
        aggregate retries every event that projection parked of it, in log
        order, each in the transaction that removes its row (so it is applied
        once), and stops at the first that fails again (the rest stay parked
        behind it). ``read(context, position)`` reads one stored event.
        """
        outcome = RetryOutcome()
        by_name = {projection.name: projection for projection in projections}
        with self.transaction() as tx:
            chosen = dead_letters.listed(tx, ids)
        for name, context, aggregate_id in sorted({(d.projection, d.context, d.aggregate_id) for d in chosen}):
            projection = by_name.get(name)
            if projection is None:
                continue
            with self.transaction() as tx:
                self.lock_projection(tx, name)
                for letter in dead_letters.of_aggregate(tx, name, context, aggregate_id):
                    error = self._apply_parked(tx, projection, read(context, letter.log_position))
                    if error is None:
                        dead_letters.remove(tx, letter)
                        outcome.applied.append(letter)
                        continue
                    dead_letters.failed_again(tx, letter, error)
                    outcome.failed.append((letter, error))
                    break
        return outcome

    def _apply_parked(self, tx: ReadTransaction, projection: Projection, event: EventEnvelope | None) -> str | None:
        """Apply one parked event under a savepoint; returns why it failed, if it did."""
        if event is None:
            return "the event store holds no event at this position"
        if isinstance(event, UnreadableEvent):
            return describe(event.error)
        try:
            with _savepoint(tx):
                projection.apply([event], tx)
        except Exception as error:
            if self.is_database_failure(error):
                raise
            return describe(error)
        return None

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
