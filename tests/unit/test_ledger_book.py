"""The executor's in-memory ledgers (``application.charging.LedgerBook``) against another writer.

Stories: while a batch of charges is being written, a fresh read of the
balance never replaces the executor's copy with the store's older one (it
waits for the batch, then reads the store); a ledger written by another
writer (a top-up through the API) between the executor's load and its
commit loses no charge and doubles none, and the top-up is kept; charges
made on the old copy while the batch was written are carried over; a node
refused at the 100th execution is counted all the same (AutoGPT's counter),
so the next free node runs.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from application.accounts import AccountsApplication
from application.charging import LedgerBook, replay
from application.execution_writer import GroupCommitWriter
from application.executions import ExecutionsApplication
from domain.credit_ledger import CreditLedger, InsufficientBalanceError


def saved_ledger(accounts: AccountsApplication, user: str, credits: int) -> None:
    ledger = CreditLedger.open(user)
    ledger.grant(credits, f"grant-{user}")
    accounts.save(ledger)


def store_copy(accounts: AccountsApplication, user: str) -> CreditLedger:
    found = accounts.repository.get(CreditLedger.id_for(user))
    assert isinstance(found, CreditLedger)
    return found


def usage(accounts: AccountsApplication, user: str) -> list[CreditLedger.Charged]:
    events = accounts.repository.event_store.get(CreditLedger.id_for(user))
    return [e for e in events if isinstance(e, CreditLedger.Charged)]


async def test_a_fresh_balance_read_waits_for_the_batch_being_written() -> None:
    accounts = AccountsApplication()
    saved_ledger(accounts, "alice", 3)
    book = LedgerBook(accounts, starting_credits=0)
    mine = await book._ledger("alice")
    mine.charge(3, "node-1")
    batches = book.collect()  # the writer took the charge: nothing pending here, the store does not have it yet
    reading = asyncio.create_task(book.balance("alice"))
    await asyncio.sleep(0.05)
    assert not reading.done()  # the store's copy (balance 3) would let a second node spend the same credits
    accounts.events.put(batches[0].events)
    book.settle(batches)
    assert await reading == 0
    assert book._ledgers["alice"].version == store_copy(accounts, "alice").version


async def test_a_copy_read_before_our_batch_landed_does_not_replace_ours() -> None:
    accounts = AccountsApplication()
    saved_ledger(accounts, "alice", 5)
    book = LedgerBook(accounts, starting_credits=0)
    mine = await book._ledger("alice")
    before = book.load("alice")  # a load that read the store before our batch was written
    mine.charge(2, "node-1")
    batches = book.collect()
    accounts.events.put(batches[0].events)
    book.settle(batches)
    book.load = lambda user_id: before  # type: ignore[method-assign]
    assert await book.balance("alice") == 3
    assert book._ledgers["alice"] is mine


async def test_a_top_up_between_load_and_commit_loses_no_charge_and_doubles_none() -> None:
    accounts = AccountsApplication()
    saved_ledger(accounts, "alice", 10)
    book = LedgerBook(accounts, starting_credits=0)
    writer = GroupCommitWriter(ExecutionsApplication(), ledgers=book)
    mine = await book._ledger("alice")
    mine.charge(3, "node-1", {"graph_exec_id": "run-1"})
    mine.charge(4, "node-2", {"graph_exec_id": "run-2"})
    batches = book.collect()
    api_copy = store_copy(accounts, "alice")  # the API writes the same ledger meanwhile
    api_copy.top_up(100, "top-up-1")
    accounts.save(api_copy)
    mine.charge(1, "node-3", {"graph_exec_id": "run-3"})  # charged on our old copy while the batch is written

    replaced = writer._write_ledgers(batches, dropped=set())  # our version was taken: reload, replay, write
    for user, fresh in replaced.items():
        book.replace(user, fresh)
    book.settle(batches)
    assert set(replaced) == {"alice"}
    assert [e.transaction_key for e in usage(accounts, "alice")] == ["node-1", "node-2"]
    assert store_copy(accounts, "alice").balance == 10 + 100 - 3 - 4

    ours = book._ledgers["alice"]  # the store's copy, with node-3 replayed on it
    assert ours.balance == 10 + 100 - 3 - 4 - 1
    accounts.events.put(book.collect()[0].events)
    keys = [e.transaction_key for e in usage(accounts, "alice")]
    assert keys == ["node-1", "node-2", "node-3"]  # each once
    assert store_copy(accounts, "alice").balance == 10 + 100 - 8

    # the same batch replayed again (a retried write) charges nothing twice
    again = book.load("alice")
    replay(again, batches[0].events)
    assert not again.pending_events


async def test_a_node_refused_at_the_hundredth_execution_is_counted_and_the_next_free_node_runs() -> None:
    accounts = AccountsApplication()
    ledger = CreditLedger.open("alice")
    ledger.grant(1, "grant-alice")
    ledger.count_node_executions(98)
    accounts.save(ledger)
    book = LedgerBook(accounts, starting_credits=0)
    mine = await book._ledger("alice")
    mine.charge(1, "spent")  # balance 0
    execution = cast(Any, SimpleNamespace(user_id="alice", id="run-1", graph_id="g"))
    block = cast(Any, SimpleNamespace(id="363ae599-353e-4804-937e-b2ee3cef3da4", name=lambda: "AgentOutputBlock"))

    def node(number: int) -> Any:
        return SimpleNamespace(node_exec_id=f"n{number}", node_id=f"n{number}", input_data={})

    assert await book.charge_node(execution, node(99), block, resumed=False) == (0, 0)  # the 99th: free
    try:
        await book.charge_node(execution, node(100), block, resumed=False)  # the 100th costs 1: refused
        raise AssertionError("the 100th node execution was not refused")
    except InsufficientBalanceError as refused:
        assert refused.cost == 1
    assert await book.charge_node(execution, node(101), block, resumed=False) == (0, 0)  # the 101st: free again
    book.collect()
    assert book._ledgers["alice"].node_executions == 101
