"""Credits use cases: top up, grant, charge, refund, and the balance a run request is checked against.

Each command loads the user's ledger (``domain.credit_ledger``), calls one
verb and saves it in the accounts context. Two writers of one user's ledger
at once (a webhook retried while the first call still runs, two API
processes) collide on the ledger's next version; the loser reloads the
ledger and tries again, a bounded number of times, so the second of two
calls with one key sees the first's transaction and answers "already
recorded" instead of crediting twice.

With credits enabled, a user's starting grant (``AGENTGRAPH_STARTING_CREDITS``,
key ``STARTING-GRANT-<user_id>``) is recorded with their first transaction;
until then the balance a run request is checked against counts it as
granted, so opening the ledger never needs a write on a read.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from application.accounts import AccountsApplication
from application.results import Written, position_of
from domain.credit_ledger import CreditLedger, Outcome

CONFLICT_ATTEMPTS = 20
"""Tries of one command against concurrent writers of the same ledger before the conflict is raised."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class TransactionWritten(Written):
    """A transaction as a command left it: new, or the one its key already named (``already_recorded``)."""

    user_id: str
    transaction_key: str
    transaction_type: str
    amount: int
    running_balance: int
    created_at: str
    already_recorded: bool


@dataclass(frozen=True)
class RefundWritten(Written):
    """A refund request: the credits refunded at once (0 while it waits for review)."""

    refunded: int


class Credits:
    """The ledger use cases, on the accounts context's event store.

    ``enabled`` is ``AGENTGRAPH_CREDITS_ENABLED``: without it nothing is
    enforced (no 402, no starting grant), yet top-ups and grants are still
    recorded, so turning credits on later finds every balance as it was.
    """

    def __init__(self, accounts: AccountsApplication, *, enabled: bool, starting_credits: int) -> None:
        self._accounts = accounts
        self.enabled = enabled
        self._starting = starting_credits if enabled else 0

    # -- reads of the write side ------------------------------------------

    def balance(self, user_id: str) -> int:
        """The user's balance as the ledger has it, the starting grant counted if it is still due."""
        ledger = self._load(user_id)
        if ledger is None:
            return self._starting
        ledger.grant_starting_credits(self._starting)  # on this loaded copy only: a read never saves
        return ledger.balance

    def may_run(self, user_id: str) -> bool:
        """False when credits are enabled and the balance is 0 or less (AutoGPT's 402 rule)."""
        return not self.enabled or self.balance(user_id) > 0

    # -- commands ---------------------------------------------------------

    def top_up(self, user_id: str, amount: int, key: str | None = None) -> TransactionWritten:
        """Credit ``amount`` at once (there is no payment provider); ``key`` makes a retry harmless."""
        return self._transact(user_id, lambda ledger: ledger.top_up(amount, key or _new_key()))

    def grant(
        self, user_id: str, amount: int, key: str | None = None, metadata: dict[str, Any] | None = None
    ) -> TransactionWritten:
        """Free credits (an admin's grant: ``metadata`` names the admin and the reason)."""
        return self._transact(user_id, lambda ledger: ledger.grant(amount, key or _new_key(), metadata))

    def charge(
        self, user_id: str, amount: int, key: str, metadata: dict[str, Any] | None = None
    ) -> TransactionWritten | None:
        """Spend ``amount`` credits once per ``key``, one command at a time; None for a cost of 0.

        The executor does not come this way: it charges nodes on its in-memory ledgers in its group commit
        (``application.charging``); this is the ledger's own spend for any other caller.

        Raises ``InsufficientBalanceError`` (nothing recorded) when the balance does not cover it.
        """
        if amount == 0:
            return None
        return self._transact(user_id, lambda ledger: _required(ledger.charge(amount, key, metadata)))

    def request_refund(self, user_id: str, transaction_key: str, reason: str) -> RefundWritten:
        """Ask for the refund of one of the user's top-ups (see ``CreditLedger.request_refund``)."""

        def refund() -> RefundWritten:
            ledger = self._ledger(user_id)  # a new ledger has no top-up: the verb says "not found"
            refunded = ledger.request_refund(transaction_key, reason)
            return RefundWritten(ledger.id, position_of(self._accounts.save(ledger)), refunded=refunded)

        return self._retrying(refund)

    # -- helpers ----------------------------------------------------------

    def _transact(self, user_id: str, verb: Callable[[CreditLedger], Outcome]) -> TransactionWritten:
        def attempt() -> TransactionWritten:
            ledger = self._ledger(user_id)
            outcome = verb(ledger)  # a refusal raises here: nothing is saved
            recordings = self._accounts.save(ledger) if ledger.pending_events else []
            return TransactionWritten(
                ledger.id,
                position_of(recordings),
                user_id=user_id,
                transaction_key=outcome.transaction_key,
                transaction_type=str(outcome.type),
                amount=outcome.amount,
                running_balance=outcome.running_balance,
                created_at=outcome.created_at,
                already_recorded=outcome.already_recorded,
            )

        return self._retrying(attempt)

    def _ledger(self, user_id: str) -> CreditLedger:
        """The user's ledger (a new one if none was saved), with the starting grant pending if it is due.

        The grant comes before the command's own transaction, so a new user's first spend can use it; it is
        saved only with a command that goes through.
        """
        ledger = self._load(user_id) or CreditLedger.open(user_id)
        ledger.grant_starting_credits(self._starting)
        return ledger

    def _retrying(self, command: Callable[[], _T]) -> _T:
        retrying = Retrying(
            stop=stop_after_attempt(CONFLICT_ATTEMPTS),
            retry=retry_if_exception_type(IntegrityError),
            wait=wait_random(0, 0.02),
            reraise=True,
        )
        return retrying(command)

    def _load(self, user_id: str) -> CreditLedger | None:
        try:
            ledger: object = self._accounts.repository.get(CreditLedger.id_for(user_id))
        except AggregateNotFoundError:
            return None
        return ledger if isinstance(ledger, CreditLedger) else None


def _new_key() -> str:
    return str(uuid.uuid4())


def _required(outcome: Outcome | None) -> Outcome:
    assert outcome is not None, "a charge of more than 0 credits records a transaction"
    return outcome
