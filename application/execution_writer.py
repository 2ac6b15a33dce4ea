"""Group commit for execution events.

The executor changes many runs at once; writing one transaction per event
would make the database the bottleneck. The writer instead collects the
pending events of every changed run and writes them together: while one
batch is being written, the next one accumulates. A batch is one
transaction (several events, several runs).

Optimistic concurrency still holds per run: if a batch fails because some
run moved on elsewhere (a stop request from the API, or another executor
took the run over), the batch is retried run by run so the others still
land, and the conflicting runs are reported to the executor, which reloads
them and decides again.

With charging (``application.charging``), the batch also carries the users'
credit-ledger events the executor charged since the last batch. On
PostgreSQL, when both contexts share the database, they are written in the
same transaction as the executions events (both or nothing). Otherwise
(SQLite: one file per context), or when that transaction hit a conflict,
the executions events are written first and the ledger events right after,
replayed on the store's copy of a ledger whose version was taken elsewhere
(dropping the charges of runs whose events were refused).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.accounts import LEDGER_SNAPSHOT_INTERVAL
from application.charging import LedgerBatch, LedgerBook, replay
from application.executions import ExecutionsApplication
from application.retry import retrying_async
from domain.credit_ledger import CreditLedger
from domain.execution import GraphExecution

log = logging.getLogger(__name__)


@dataclass
class WriterStats:
    """What the writer did so far."""

    batches: int = 0
    events: int = 0
    conflicts: int = 0
    ledger_conflicts: int = 0
    """Ledger batches written the slow way: their version was taken elsewhere (a top-up, another executor)."""
    failures: int = 0
    largest_batch: int = 0
    write_seconds: float = 0.0


RecordTogether = Callable[[list[Any], list[Any]], None]
"""Records executions events and accounts events in one transaction (raises ``IntegrityError``: neither)."""


class GroupCommitWriter:
    """Writes the pending events of changed runs in batched transactions."""

    def __init__(
        self,
        app: ExecutionsApplication,
        *,
        max_batch_events: int = 10_000,
        ledgers: LedgerBook | None = None,
        record_together: RecordTogether | None = None,
    ) -> None:
        self._app = app
        self.ledgers = ledgers
        """The executor's credit ledgers (charging on), whose events go out with each batch."""
        self._together = record_together
        """Writes executions events and ledger events in one transaction (None: the stores cannot)."""
        self._on_conflict: Callable[[UUID], None] = lambda _: None
        self._max_batch = max_batch_events
        self._dirty: dict[UUID, GraphExecution] = {}
        self._refused: dict[UUID, GraphExecution] = {}
        self._wake = asyncio.Event()
        self._flushed = asyncio.Condition()
        self._generation = 0  # increases each time a batch is durable
        self._closing = False
        self._stopped = False
        self._in_flight = False
        self.stats = WriterStats()

    def mark(self, execution: GraphExecution) -> None:
        """``execution`` has new pending events to write."""
        self._dirty[execution.id] = execution
        self._wake.set()

    def forget(self, execution_id: UUID) -> None:
        """Drop a run's unwritten events (the executor reloads it from the store)."""
        self._dirty.pop(execution_id, None)
        self._refused.pop(execution_id, None)

    def refused(self, execution: GraphExecution) -> bool:
        """True when this copy of the run had events refused (it must be reloaded before it goes on)."""
        return self._refused.get(execution.id) is execution

    async def flush(self) -> None:
        """Wait until everything marked before this call is durable."""
        if not self._dirty and not self._in_flight:
            return
        # the batch in flight (if any) lacks what is dirty now: that goes in the next one
        target = self._generation + (2 if self._in_flight and self._dirty else 1)
        self._wake.set()
        async with self._flushed:
            await self._flushed.wait_for(lambda: self._generation >= target or self._stopped)

    async def catch_up(self) -> None:
        """Wait until the batch being written (if any) is durable.

        A run that waits here whenever its backlog is large stays about one
        batch ahead of the commit: it goes on producing while the writer
        writes, but never piles up more than it.
        """
        if not self._in_flight:
            await asyncio.sleep(0)  # let the writer take what is dirty
            return
        target = self._generation + 1
        async with self._flushed:
            await self._flushed.wait_for(lambda: self._generation >= target or self._stopped)

    async def run(self, on_conflict: Callable[[UUID], None]) -> None:
        """Write batches until ``close``; ``on_conflict(run_id)`` hears of each run whose events were refused."""
        self._on_conflict = on_conflict
        try:
            await self._run()
        finally:
            self._stopped = True
            async with self._flushed:
                self._flushed.notify_all()

    async def _run(self) -> None:
        while not self._closing or self._dirty:
            await self._wake.wait()
            self._wake.clear()
            if not self._dirty:
                continue
            batch, self._dirty = self._dirty, {}
            events: list[Any] = []
            skipped: set[str] = set()
            for execution_id, execution in batch.items():
                pending = list(execution.collect_events())
                if self._refused.get(execution_id) is execution:
                    skipped.add(str(execution_id))
                    continue  # this copy of the run was refused once: none of its later events may land
                events.extend(pending)
            ledgers = self.ledgers.collect() if self.ledgers is not None else []
            conflicted: set[UUID] = set()
            if events or ledgers:
                self._in_flight = True
                try:
                    conflicted = await self._write_batch(events, ledgers, skipped)
                finally:
                    self._in_flight = False
                    if self.ledgers is not None:
                        self.ledgers.settle(ledgers)  # the store's copy of these ledgers may be read again
            for execution_id in conflicted:
                # decided here, in the loop, before the next batch is collected
                self._refused[execution_id] = batch[execution_id]
                self._on_conflict(execution_id)
            async with self._flushed:
                self._generation += 1
                self._flushed.notify_all()
            if self._dirty:
                self._wake.set()

    async def close(self) -> None:
        """Write what is left, then let ``run`` return."""
        self._closing = True
        self._wake.set()

    async def _write_batch(self, events: list[Any], ledgers: list[LedgerBatch], skipped: set[str]) -> set[UUID]:
        """Write the run events and the ledger events of one batch; return the runs whose events were refused."""
        if ledgers and self._together is not None and not any(_charged_by(batch.events, skipped) for batch in ledgers):
            retry = retrying_async(f"writing {len(events)} execution events with their charges", log)
            if await retry(asyncio.to_thread, self._write_together, events, ledgers):
                return set()
        conflicted = await self._write_until_done(events) if events else set()
        if ledgers:
            dropped = skipped | {str(execution_id) for execution_id in conflicted}
            retry = retrying_async("writing the credit ledgers' events", log)
            replaced: dict[str, CreditLedger] = await retry(asyncio.to_thread, self._write_ledgers, ledgers, dropped)
            assert self.ledgers is not None
            for user_id, fresh in replaced.items():
                self.ledgers.replace(user_id, fresh)
        return conflicted

    async def _write_until_done(self, events: list[Any]) -> set[UUID]:
        """Write a batch; if the database fails (not a conflict), retry until it is back.

        Later batches wait behind this one, so each run's events still land in order.
        """
        retry = retrying_async(f"writing {len(events)} execution events", log)
        conflicted: set[UUID] = await retry(asyncio.to_thread, self._write, events)
        return conflicted

    # -- the write itself (runs in a worker thread) -----------------------

    def _write(self, events: list[Any]) -> set[UUID]:
        """Write ``events``; return the runs whose events were refused."""
        started = time.perf_counter()
        try:
            conflicted = self._write_events(events)
        except Exception:
            self.stats.failures += 1  # the database failed (conflicts are not errors): the batch is retried
            raise
        finally:
            self.stats.write_seconds += time.perf_counter() - started
        for execution_id in conflicted:
            self.stats.conflicts += 1
            log.info("execution %s changed elsewhere: its pending events were refused", execution_id)
        return conflicted

    def _write_together(self, events: list[Any], ledgers: list[LedgerBatch]) -> bool:
        """Both stores in one transaction; False (nothing written) when a version was taken in either."""
        assert self._together is not None
        ledger_events = [event for batch in ledgers for event in batch.events]
        started = time.perf_counter()
        try:
            self._together(events, ledger_events)
        except IntegrityError:
            return False
        except Exception:
            self.stats.failures += 1
            raise
        finally:
            self.stats.write_seconds += time.perf_counter() - started
        if events:
            self._count(len(events))
        self._snapshot(ledger_events)
        return True

    def _write_ledgers(self, ledgers: list[LedgerBatch], dropped: set[str]) -> dict[str, CreditLedger]:
        """Write each ledger's events after the run events; returns the ledgers replaced by the store's copy.

        A ledger whose events lost a charge (its run was refused) or whose
        version was taken elsewhere is reloaded, the remaining events are
        replayed on it (``application.charging.replay``) and written again.
        """
        assert self.ledgers is not None
        accounts = self.ledgers.accounts
        replaced: dict[str, CreditLedger] = {}
        for batch in ledgers:
            events = [e for e in batch.events if not _charged_by([e], dropped)]
            if len(events) == len(batch.events):
                try:
                    accounts.events.put(events)
                    self._snapshot(events)
                    continue
                except IntegrityError:
                    pass
            self.stats.ledger_conflicts += 1
            for _ in range(LEDGER_CONFLICT_ATTEMPTS):
                fresh = self.ledgers.load(batch.user_id)
                replay(fresh, events)
                pending = list(fresh.collect_events())
                try:
                    accounts.events.put(pending)
                except IntegrityError:
                    continue
                self._snapshot(pending)
                replaced[batch.user_id] = fresh
                break
            else:
                log.error("credit ledger of %s: %d events lost to conflicts", batch.user_id, len(events))
        return replaced

    def _snapshot(self, ledger_events: list[Any]) -> None:
        """Snapshot a ledger every ``LEDGER_SNAPSHOT_INTERVAL`` events, as ``save`` would have."""
        assert self.ledgers is not None
        accounts = self.ledgers.accounts
        if accounts.snapshots is None:
            return
        for event in ledger_events:
            if event.originator_version % LEDGER_SNAPSHOT_INTERVAL == 0:
                try:
                    accounts.take_snapshot(event.originator_id, version=event.originator_version)
                except Exception:  # a snapshot only saves reading time: never fail a batch for it
                    log.exception("snapshot of credit ledger %s failed", event.originator_id)

    def _write_events(self, events: list[Any]) -> set[UUID]:
        conflicted: set[UUID] = set()
        for start in range(0, len(events), self._max_batch):
            chunk = [e for e in events[start : start + self._max_batch] if e.originator_id not in conflicted]
            if not chunk:
                continue
            try:
                self._app.record_events(chunk)
                self._count(len(chunk))
            except IntegrityError:
                conflicted |= self._write_run_by_run(chunk)
        return conflicted

    def _write_run_by_run(self, events: list[Any]) -> set[UUID]:
        by_run: dict[UUID, list[Any]] = {}
        for event in events:
            by_run.setdefault(event.originator_id, []).append(event)
        conflicted: set[UUID] = set()
        for execution_id, run_events in by_run.items():
            try:
                self._app.record_events(run_events)
                self._count(len(run_events))
            except IntegrityError:
                conflicted.add(execution_id)
        return conflicted

    def _count(self, size: int) -> None:
        self.stats.batches += 1
        self.stats.events += size
        self.stats.largest_batch = max(self.stats.largest_batch, size)


LEDGER_CONFLICT_ATTEMPTS = 20
"""Reloads of a ledger whose version keeps being taken before its events are given up (logged)."""


def _charged_by(events: list[Any], runs: set[str]) -> bool:
    """True when one of ``events`` is a charge for one of ``runs`` (execution ids)."""
    return bool(runs) and any(
        isinstance(e, CreditLedger.Charged) and e.metadata.get("graph_exec_id") in runs for e in events
    )
