"""Credits: one ledger per user, the one place that decides what the user may spend.

``CreditLedger`` is an event-sourced aggregate of the accounts context. Its
id is derived from the user id (``CreditLedger.id_for``), so every writer of
a user's credits writes the same stream, and the event store's optimistic
concurrency lets one of two concurrent writers through and sends the other
back to reload (``application.credits`` retries it): one writer per user,
without a lock.

Amounts are integer credits (1 credit = 1 US cent). Each transaction is one
event (``ToppedUp``, ``Granted``, ``Charged``, ``Refunded``) with its
transaction key, its signed amount and the balance after it. A key is
unique per user: the same key with the same type and amount again records
nothing and answers the first outcome (``already_recorded``), which is what
a retried request or payment webhook needs; the same key for a different
transaction is refused (``TransactionKeyConflictError``, AutoGPT's message).

What the aggregate keeps loaded is bounded: the balance, the keys of the
money-moving transactions (top-ups, grants, refunds: a few a month per
user), the refund requests (one per ISO week at most) and only the most
recent ``RECENT_USAGE_KEYS`` usage keys. Usage keys are the executor's
per-node charge keys, retried within seconds of the first attempt; keeping
every one of them would make the ledger grow with every block a user ever
ran. Snapshots (``application.accounts``) keep the events a load reads
bounded too.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, TypedDict

from eventsourcing.domain import Aggregate, event

from domain.not_found import NotFoundError

LEDGER_NAMESPACE = uuid.UUID("4d0c7a52-6f0e-4f59-9a3e-2f3b8c1d5e70")
"""The uuid5 namespace of ledger ids (never change it: ledgers would be lost)."""

RECENT_USAGE_KEYS = 5_000
"""Usage keys remembered per ledger (the most recent); older ones are forgotten (see the module docstring)."""

REFUND_TOLERANCE = 500
"""A refund of up to this many credits more than the balance is made at once; beyond it, it waits for review."""

STARTING_GRANT_PREFIX = "STARTING-GRANT-"


class TransactionType(enum.StrEnum):
    """What a transaction is (AutoGPT's ``CreditTransactionType``, without the Stripe-only ``CARD_CHECK``)."""

    TOP_UP = "TOP_UP"
    USAGE = "USAGE"
    GRANT = "GRANT"
    REFUND = "REFUND"


class RefundStatus(enum.StrEnum):
    """Where a refund request stands (AutoGPT's ``CreditRefundRequestStatus``)."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


REFUND_UNDER_REVIEW = "The refund request is under review."
REFUND_APPROVED = "The refund request has been approved, the amount will be credited back to your account."


class InsufficientBalanceError(ValueError):
    """A spend larger than the balance: nothing was recorded (AutoGPT's message)."""

    def __init__(self, balance: int, cost: int) -> None:
        super().__init__(f"Insufficient balance of ${balance / 100}, where this will cost ${cost / 100}")
        self.balance = balance
        self.cost = cost


class TransactionKeyConflictError(ValueError):
    """The key names another transaction of this user (a different type or amount): nothing was recorded."""

    def __init__(self, key: str, user_id: str) -> None:
        super().__init__(f"Transaction key {key} already exists for user {user_id}")
        self.key = key


class TransactionNotFoundError(NotFoundError):
    """No such top-up for this user: unknown, not a top-up, or someone else's."""


class RefundAlreadyRequestedError(ValueError):
    """A refund was already requested for a top-up of the same ISO week (AutoGPT's message)."""

    def __init__(self) -> None:
        super().__init__(
            "Unable to request a refund for this transaction, "
            "the request of the top-up transaction within the same week has already been made."
        )


class Recorded(TypedDict):
    """What the ledger remembers of one transaction key."""

    type: str
    amount: int
    running_balance: int
    created_at: str


class RefundRequest(TypedDict):
    """A refund request as the ledger keeps it."""

    transaction_key: str
    amount: int
    reason: str
    status: str
    result: str
    created_at: str


class Outcome:
    """What a transaction command did: the transaction (new, or the one its key already named)."""

    __slots__ = ("already_recorded", "amount", "created_at", "running_balance", "transaction_key", "type")

    def __init__(self, key: str, recorded: Recorded, *, already_recorded: bool) -> None:
        self.transaction_key = key
        self.type = TransactionType(recorded["type"])
        self.amount = recorded["amount"]
        self.running_balance = recorded["running_balance"]
        self.created_at = recorded["created_at"]
        self.already_recorded = already_recorded


def now_iso() -> str:
    """The time a transaction is recorded at (UTC, microseconds always written, so texts sort as times)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def iso_week_of(created_at: str) -> str:
    """``2025-W07``-style ``YYYY-WW`` of a transaction's time (AutoGPT's refund-request week)."""
    year, week, _ = datetime.fromisoformat(created_at).isocalendar()
    return f"{year}-{week:02d}"


class CreditLedger(Aggregate):
    """The credits of one user: balance, transactions by key, refund requests."""

    # state added after the first ledgers were written: class defaults, so older snapshots still load
    node_executions: int = 0
    """Node executions the executor charged for so far (the execution-cost counter)."""
    zero_balance_graphs: tuple[str, ...] = ()
    """Graphs whose runs stopped for want of credits since credits were last added."""

    class Opened(Aggregate.Created):
        """The user's ledger was opened (by its first transaction)."""

        user_id: str

    @event(Opened)
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.balance = 0
        self.transactions: dict[str, Recorded] = {}
        """Keys of top-ups, grants and refunds (all of them)."""
        self.recent_usage: dict[str, Recorded] = {}
        """Keys of the most recent usage charges, oldest first."""
        self.refund_requests: dict[str, RefundRequest] = {}
        """By request id ``<YYYY-WW of the top-up>-<user_id>``."""

    @staticmethod
    def id_for(user_id: str) -> uuid.UUID:
        """The ledger id of ``user_id`` (the same in every process, for ever)."""
        return uuid.uuid5(LEDGER_NAMESPACE, user_id)

    @classmethod
    def open(cls, user_id: str) -> CreditLedger:
        """A new, empty ledger of ``user_id`` (it exists once saved with its first transaction)."""
        return cls._create(cls.Opened, id=cls.id_for(user_id), user_id=user_id)

    # -- the verbs --------------------------------------------------------

    def top_up(self, amount: int, key: str, metadata: dict[str, Any] | None = None) -> Outcome:
        """Credit ``amount`` (> 0) bought by the user."""
        _positive(amount)
        return self._transact(self.ToppedUp, TransactionType.TOP_UP, amount, key, metadata)

    def grant(self, amount: int, key: str, metadata: dict[str, Any] | None = None) -> Outcome:
        """Free credits (an admin's grant, the starting grant); a negative grant may not go below zero."""
        if amount == 0:
            raise ValueError("A grant must not be 0 credits")
        return self._transact(self.Granted, TransactionType.GRANT, amount, key, metadata)

    def grant_starting_credits(self, amount: int) -> Outcome | None:
        """The starting grant, once per user (key ``STARTING-GRANT-<user_id>``); None when there is none to give."""
        key = f"{STARTING_GRANT_PREFIX}{self.user_id}"
        if amount <= 0 or key in self.transactions:
            return None
        return self.grant(amount, key, {"reason": "Starting credits"})

    def charge(
        self, amount: int, key: str, metadata: dict[str, Any] | None = None, *, overdraw: bool = False
    ) -> Outcome | None:
        """Spend ``amount`` credits (a USAGE of ``-amount``); refused, recording nothing, beyond the balance.

        A cost of 0 records nothing (None), as in AutoGPT. ``metadata`` is
        AutoGPT's UsageTransactionMetadata (``graph_exec_id``, ``graph_id``,
        ``node_id``, ``node_exec_id``, ``block_id``, ``block``, ``input``, ``reason``).
        """
        if amount < 0:
            raise ValueError("A charge must be 0 credits or more")
        if amount == 0:
            return None
        return self._transact(self.Charged, TransactionType.USAGE, -amount, key, metadata, overdraw=overdraw)

    def count_node_executions(self, count: int) -> None:
        """``count`` more node executions of the user were charged for (the execution-cost counter).

        The executor counts node executions as it charges them and records the
        count once per group commit (one event for many nodes); the executions
        cost is charged at each multiple of the threshold under the key
        ``execution_cost_key(k)``, so the k-th hundred is paid once.
        """
        if count <= 0:
            raise ValueError("A count of node executions must be more than 0")
        self._node_executions_counted(user_id=self.user_id, count=count, total=self.node_executions + count)

    def execution_cost_key(self, hundred: int) -> str:
        """The transaction key of the execution cost of the ``hundred``-th threshold of node executions."""
        return f"EXECUTION-COST-{self.user_id}-{hundred}"

    def record_zero_balance(self, graph_id: str, graph_exec_id: str, balance: int, cost: int) -> bool:
        """A run of ``graph_id`` stopped for want of credits: the fact a ZERO_BALANCE notification is sent for.

        Recorded once per graph until credits are added again (a positive
        top-up or grant clears it, as AutoGPT's per-(user, graph) flag); False
        when it was already recorded.
        """
        if graph_id in self.zero_balance_graphs:
            return False
        self._zero_balance_reached(
            user_id=self.user_id,
            graph_id=graph_id,
            graph_exec_id=graph_exec_id,
            balance=balance,
            cost=cost,
            created_at=now_iso(),
        )
        return True

    def request_refund(self, transaction_key: str, reason: str, tolerance: int = REFUND_TOLERANCE) -> int:
        """Ask for a top-up's refund; returns the credits refunded now (0: it waits for review).

        Only a top-up of this ledger can be refunded, one request per ISO
        week of the top-ups' times. Without a payment provider a refund is
        made at once when the top-up is at most ``tolerance`` credits more
        than the balance (the balance may then go below zero by as much);
        otherwise the request stays PENDING for an operator.
        """
        top_up = self.transactions.get(transaction_key)
        if top_up is None or top_up["type"] != TransactionType.TOP_UP:
            raise TransactionNotFoundError(f"Transaction {transaction_key} not found")
        request_id = f"{iso_week_of(top_up['created_at'])}-{self.user_id}"
        if request_id in self.refund_requests:
            raise RefundAlreadyRequestedError()
        amount = top_up["amount"]
        at_once = amount - self.balance <= tolerance
        status, result = (
            (RefundStatus.APPROVED, REFUND_APPROVED) if at_once else (RefundStatus.PENDING, REFUND_UNDER_REVIEW)
        )
        self._refund_requested(
            user_id=self.user_id,
            request_id=request_id,
            transaction_key=transaction_key,
            amount=amount,
            reason=reason,
            status=str(status),
            result=result,
            created_at=now_iso(),
        )
        if not at_once:
            return 0
        refund_key = f"REFUND-{transaction_key}"
        self._transact(self.Refunded, TransactionType.REFUND, -amount, refund_key, {"reason": reason}, overdraw=True)
        return amount

    # -- what the verbs record --------------------------------------------

    class Transaction(Aggregate.Event):
        """A transaction of the ledger (each type is a subclass); it names its user for readers of the log."""

        user_id: str
        transaction_key: str
        amount: int
        running_balance: int
        created_at: str
        metadata: dict[str, Any]

        transaction_type: ClassVar[TransactionType]

        def apply(self, aggregate: Aggregate) -> None:
            """Move the balance and remember the key."""
            assert isinstance(aggregate, CreditLedger)
            aggregate._remember(self)

    class ToppedUp(Transaction):
        """Credits bought by the user (TOP_UP)."""

        transaction_type = TransactionType.TOP_UP

    class Granted(Transaction):
        """Free credits (GRANT): starting grant, admin grant."""

        transaction_type = TransactionType.GRANT

    class Charged(Transaction):
        """Credits spent (USAGE, a negative amount)."""

        transaction_type = TransactionType.USAGE

    class Refunded(Transaction):
        """A top-up given back (REFUND, a negative amount)."""

        transaction_type = TransactionType.REFUND

    class RefundRequested(Aggregate.Event):
        """The user asked for a top-up's refund: APPROVED at once, or PENDING for review."""

        user_id: str
        request_id: str
        transaction_key: str
        amount: int
        reason: str
        status: str
        result: str
        created_at: str

    @event(RefundRequested)
    def _refund_requested(
        self,
        user_id: str,
        request_id: str,
        transaction_key: str,
        amount: int,
        reason: str,
        status: str,
        result: str,
        created_at: str,
    ) -> None:
        self.refund_requests[request_id] = RefundRequest(
            transaction_key=transaction_key,
            amount=amount,
            reason=reason,
            status=status,
            result=result,
            created_at=created_at,
        )

    class NodeExecutionsCounted(Aggregate.Event):
        """The executor charged ``count`` more node executions of the user (``total`` so far)."""

        user_id: str
        count: int
        total: int

    @event(NodeExecutionsCounted)
    def _node_executions_counted(self, user_id: str, count: int, total: int) -> None:
        self.node_executions = total

    class ZeroBalanceReached(Aggregate.Event):
        """A node of a run could not be paid: the run failed (AutoGPT's ZERO_BALANCE notification's fact)."""

        user_id: str
        graph_id: str
        graph_exec_id: str
        balance: int
        cost: int
        created_at: str

    @event(ZeroBalanceReached)
    def _zero_balance_reached(
        self, user_id: str, graph_id: str, graph_exec_id: str, balance: int, cost: int, created_at: str
    ) -> None:
        self.zero_balance_graphs = (*self.zero_balance_graphs, graph_id)

    # -- helpers ----------------------------------------------------------

    def recorded(self, key: str) -> Recorded | None:
        """What the key names, if the ledger remembers it."""
        return self.transactions.get(key) or self.recent_usage.get(key)

    def _transact(
        self,
        event_class: type[Transaction],
        kind: TransactionType,
        amount: int,
        key: str,
        metadata: dict[str, Any] | None,
        *,
        overdraw: bool = False,
    ) -> Outcome:
        if not key:
            raise ValueError("A transaction key must not be empty")
        known = self.recorded(key)
        if known is not None:
            if known["type"] != kind or known["amount"] != amount:
                raise TransactionKeyConflictError(key, self.user_id)
            return Outcome(key, known, already_recorded=True)
        if amount < 0 and not overdraw and self.balance + amount < 0:
            raise InsufficientBalanceError(self.balance, -amount)
        self.trigger_event(
            event_class,
            user_id=self.user_id,
            transaction_key=key,
            amount=amount,
            running_balance=self.balance + amount,
            created_at=now_iso(),
            metadata=dict(metadata or {}),
        )
        recorded = self.recorded(key)
        assert recorded is not None
        return Outcome(key, recorded, already_recorded=False)

    def _remember(self, transaction: Transaction) -> None:
        self.balance = transaction.running_balance
        if transaction.amount > 0 and self.zero_balance_graphs:
            self.zero_balance_graphs = ()  # credits were added: the next zero balance is news again
        recorded = Recorded(
            type=str(transaction.transaction_type),
            amount=transaction.amount,
            running_balance=transaction.running_balance,
            created_at=transaction.created_at,
        )
        if transaction.transaction_type == TransactionType.USAGE:
            self.recent_usage[transaction.transaction_key] = recorded
            while len(self.recent_usage) > RECENT_USAGE_KEYS:
                del self.recent_usage[next(iter(self.recent_usage))]
        else:
            self.transactions[transaction.transaction_key] = recorded


def _positive(amount: int) -> None:
    if amount <= 0:
        raise ValueError("An amount of credits must be more than 0")
