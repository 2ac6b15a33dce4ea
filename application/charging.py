"""Charging per node: the executor's handle on each user's credit ledger.

When credits are enabled, every node is paid for before it runs
(AutoGPT's ``executor/manager.py``):

1. the block's cost (``domain.block_costs``: the first matching entry), a
   USAGE transaction keyed by the node execution id, reason
   ``Ran block <block_id> <BlockName>``, with AutoGPT's UsageTransactionMetadata;
2. the execution cost: 1 credit each time the user's node executions reach a
   multiple of 100, keyed ``EXECUTION-COST-<user_id>-<k>`` (the k-th hundred).
   AutoGPT counts in a Redis key; here the count is the ledger's own
   (``CreditLedger.count_node_executions``), so it needs no Redis and is
   exactly-once with the charges.

A node that cannot be paid fails with AutoGPT's ``Insufficient balance``
error, the run ends FAILED, and the ledger records ``ZeroBalanceReached``
(once per graph until credits are added): the fact a notifications service
turns into AutoGPT's ZERO_BALANCE notification.

Speed: one writer per user, in memory. The executor keeps each user's
ledger loaded (``LedgerBook``): a charge is a check and an event on that
copy, never a database round trip. The events go out with the group commit
(``application.execution_writer``): on PostgreSQL, in the same transaction
as the executions events of the same batch (the node's start among them);
the ledger's optimistic concurrency (its next version) is what decides the
balance against any other writer (the API's top-ups, another executor).
A batch whose ledger version was taken elsewhere is written the slow way:
the run events first, then the ledger events replayed on the ledger as
the store has it (``replay``), and the executor's copy is replaced by it.
The store's copy is read again (for top-ups) only when it has everything of
ours: a batch being written is waited for (``settle``), and a copy older
than ours is never taken (it would spend the same credits twice).

Guarantees (see README "Charging"):

- never twice: a charge's key is the node execution id, and the ledger
  remembers its recent usage keys, so a node re-run (after a crash or a
  takeover) is not charged again; the execution cost's key names its
  hundred. A resumed node is not counted again either.
- no free side effect: a block that is not pure starts only after its start
  is durable (the executor's durability contract), and its charge is in the
  same transaction (PostgreSQL) or written right after it, before the block
  starts (SQLite, where each context is its own file).
- a crash can lose a charge, never add one: on SQLite, or when the batch
  hit a ledger conflict, a crash between the run's events and the ledger's
  loses the charges of at most that batch (pure nodes only: an impure node
  waits for both).
- never below zero by more than one node: a node is refused when the
  balance does not cover its whole cost. Only a charge replayed after a
  conflict is recorded whatever the balance (its node has already run), so
  the balance can dip below zero by what the other writer took meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from application.accounts import AccountsApplication
from domain.block_costs import EXECUTION_COST_PER_THRESHOLD, EXECUTION_COST_THRESHOLD, block_usage_cost
from domain.blocks.base import Block
from domain.credit_ledger import CreditLedger, InsufficientBalanceError
from domain.execution import GraphExecution, NodeExecution

log = logging.getLogger(__name__)

NO_CREDITS_LEFT = "You have no credits left to run an agent."
"""AutoGPT's error of a run that starts with a balance of 0 or less."""


@dataclass
class LedgerBatch:
    """A user's ledger events collected for one group commit."""

    user_id: str
    events: list[Any]


class LedgerBook:
    """Each user's ledger, loaded once in this executor and charged in memory (one writer per user here)."""

    def __init__(self, accounts: AccountsApplication, *, starting_credits: int) -> None:
        self.accounts = accounts
        self._starting = starting_credits
        self._ledgers: dict[str, CreditLedger] = {}
        self._loading: dict[str, asyncio.Future[CreditLedger]] = {}
        self._uncounted: defaultdict[str, int] = defaultdict(int)
        self._in_flight: dict[str, int] = {}
        """Users whose collected events the writer has not settled yet (written, or replayed on the store's copy)."""
        self._settled = asyncio.Event()
        """Set (and replaced) each time the writer settles a batch."""

    # -- reads ----------------------------------------------------------------

    async def balance(self, user_id: str) -> int:
        """The user's balance as this executor has it (loaded fresh when nothing of ours is pending)."""
        ledger = await self._ledger(user_id, fresh=True)
        return ledger.balance

    # -- charging ---------------------------------------------------------------

    async def charge_node(
        self, execution: GraphExecution, node: NodeExecution, block: Block, *, resumed: bool
    ) -> tuple[int, int]:
        """Pay for one node before it runs: returns ``(node cost, credits newly charged)``.

        Raises ``InsufficientBalanceError`` (nothing charged, the node still
        counted) when the balance does not cover the block cost plus the
        execution cost it comes to. A
        ``resumed`` node (it was running when its executor was lost) is not
        counted again, and its block charge, if recorded, is not repeated.
        """
        user = execution.user_id
        ledger = await self._ledger(user)
        block_cost, matched = block_usage_cost(block.id, node.input_data)
        key = node.node_exec_id
        hundred, due = self._due(ledger, user, key, block_cost, resumed=resumed)
        if due > ledger.balance and not ledger.pending_events and not self._uncounted[user]:
            # a top-up may have come since we loaded it: read the store's copy (once ours is all in it)
            ledger = await self._ledger(user, fresh=True)
            hundred, due = self._due(ledger, user, key, block_cost, resumed=resumed)
        execution_cost = EXECUTION_COST_PER_THRESHOLD if hundred else 0
        if due > 0 and due > ledger.balance:
            if not resumed:
                # counted all the same, as AutoGPT's counter is incremented before the charge: else every
                # later node would be "the 100th" again and be refused, free ones included
                self._uncounted[user] += 1
            raise InsufficientBalanceError(ledger.balance, due)
        metadata = {
            "graph_exec_id": str(execution.id),
            "graph_id": execution.graph_id,
            "node_id": node.node_id,
            "node_exec_id": node.node_exec_id,
            "block_id": block.id,
            "block": block.name(),
        }
        if block_cost:
            reason = f"Ran block {block.id} {block.name()}"
            ledger.charge(block_cost, key, {**metadata, "input": matched, "reason": reason})
        if hundred:
            reason = (
                f"Execution Cost for {EXECUTION_COST_THRESHOLD} blocks of "
                f"ex_id:{execution.id} g_id:{execution.graph_id}"
            )
            charge = {"execution_count": EXECUTION_COST_THRESHOLD, "charge": "Execution Cost"}
            ledger.charge(
                execution_cost, ledger.execution_cost_key(hundred), {**metadata, "input": charge, "reason": reason}
            )
        if not resumed:
            self._uncounted[user] += 1
        return block_cost + execution_cost, due

    def _due(self, ledger: CreditLedger, user: str, key: str, block_cost: int, *, resumed: bool) -> tuple[int, int]:
        """``(the hundred this node completes or 0, credits due)`` on ``ledger`` as it is (no await in here)."""
        paid = ledger.recorded(key) is not None
        hundred = 0
        if not resumed:
            total = ledger.node_executions + self._uncounted[user] + 1
            if total % EXECUTION_COST_THRESHOLD == 0:
                hundred = total // EXECUTION_COST_THRESHOLD
        execution_cost = EXECUTION_COST_PER_THRESHOLD if hundred else 0
        return hundred, (0 if paid else block_cost) + execution_cost

    def record_zero_balance(self, execution: GraphExecution, error: InsufficientBalanceError) -> None:
        """The fact of a run stopped for want of credits (goes out with the next group commit)."""
        ledger = self._ledgers.get(execution.user_id)
        if ledger is not None:
            ledger.record_zero_balance(execution.graph_id, str(execution.id), error.balance, error.cost)

    # -- what the writer takes and gives back --------------------------------

    def collect(self) -> list[LedgerBatch]:
        """Every ledger's pending events (the counts recorded first), for the next group commit."""
        for user, count in self._uncounted.items():
            ledger = self._ledgers.get(user)
            if ledger is not None and count:
                ledger.count_node_executions(count)
        self._uncounted.clear()
        batches = [
            LedgerBatch(user, list(ledger.collect_events()))
            for user, ledger in self._ledgers.items()
            if ledger.pending_events
        ]
        for batch in batches:
            self._in_flight[batch.user_id] = self._in_flight.get(batch.user_id, 0) + 1
        return batches

    def settle(self, batches: list[LedgerBatch]) -> None:
        """The writer is done with ``batches`` (from ``collect``): the store has them, or gave up on them."""
        for batch in batches:
            left = self._in_flight.get(batch.user_id, 0) - 1
            if left > 0:
                self._in_flight[batch.user_id] = left
            else:
                self._in_flight.pop(batch.user_id, None)
        settled, self._settled = self._settled, asyncio.Event()
        settled.set()

    def replace(self, user_id: str, fresh: CreditLedger) -> None:
        """The store's copy after a conflict: what our old copy charged since the batch is replayed on it."""
        stale = self._ledgers.pop(user_id, None)
        pending = list(stale.collect_events()) if stale is not None else []
        if pending:
            replay(fresh, pending)
        self._ledgers[user_id] = fresh

    def load(self, user_id: str) -> CreditLedger:
        """The user's ledger as the store has it (a new one if none was saved), starting grant due (blocking)."""
        try:
            loaded: object = self.accounts.repository.get(CreditLedger.id_for(user_id))
        except AggregateNotFoundError:
            loaded = None
        ledger = loaded if isinstance(loaded, CreditLedger) else CreditLedger.open(user_id)
        ledger.grant_starting_credits(self._starting)
        return ledger

    # -- helpers ----------------------------------------------------------------

    def _quiet(self, user_id: str, ledger: CreditLedger) -> bool:
        """True when nothing of ``ledger`` is pending, uncounted or being written: the store has all of it."""
        return not ledger.pending_events and not self._uncounted[user_id] and not self._in_flight.get(user_id)

    async def _ledger(self, user_id: str, *, fresh: bool = False) -> CreditLedger:
        """The user's ledger here; ``fresh``: the store's copy when it is at least as new as ours.

        The store's copy replaces ours only when ours has nothing the store
        lacks: no pending or uncounted charge, no batch being written (a copy
        read while one is written would not have it, and charging on it would
        spend the same credits twice), and a version no older than ours (a
        copy read before our last batch landed).
        """
        ledger = self._ledgers.get(user_id)
        if ledger is not None and (not fresh or ledger.pending_events or self._uncounted[user_id]):
            return ledger
        while ledger is not None and self._in_flight.get(user_id):
            await self._settled.wait()  # our last batch must be in the store before the store's copy is read
            ledger = self._ledgers.get(user_id)  # the writer may have replaced it (a conflict)
            if ledger is not None and (ledger.pending_events or self._uncounted[user_id]):
                return ledger
        loading = self._loading.get(user_id)
        if loading is None:  # one load per user at a time: every node waiting for it shares it
            loading = asyncio.get_running_loop().create_future()
            self._loading[user_id] = loading
            try:
                loaded = await asyncio.to_thread(self.load, user_id)
            except BaseException as exc:
                loading.set_exception(exc)
                loading.exception()  # retrieved: whoever else waits gets it too
                raise
            finally:
                self._loading.pop(user_id, None)
            current = self._ledgers.get(user_id)
            if current is None or (self._quiet(user_id, current) and loaded.version >= current.version):
                self._ledgers[user_id] = loaded  # nothing of ours is missing from it: the store's copy is the one
            loading.set_result(self._ledgers[user_id])
        return await asyncio.shield(loading)


def replay(ledger: CreditLedger, events: list[Any]) -> None:
    """Apply on ``ledger`` (the store's copy) what ``events`` of another copy did.

    Charges go in whatever the balance (their nodes have started); a key the
    ledger already has is not charged again. The starting grant and the
    ledger's creation come with the copy itself.
    """
    for event in events:
        if isinstance(event, CreditLedger.Charged):
            ledger.charge(-event.amount, event.transaction_key, event.metadata, overdraw=True)
        elif isinstance(event, CreditLedger.NodeExecutionsCounted):
            ledger.count_node_executions(event.count)
        elif isinstance(event, CreditLedger.ZeroBalanceReached):
            ledger.record_zero_balance(event.graph_id, event.graph_exec_id, event.balance, event.cost)
