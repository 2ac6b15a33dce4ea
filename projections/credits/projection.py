"""Credit ledger events -> ``read.credit_transactions``, ``read.credit_balances``, ``read.credit_refund_requests``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.credit_ledger import STARTING_GRANT_PREFIX, CreditLedger
from domain.event_types import context_event_types
from projections.base import Projection
from projections.credits.tables import CREDIT_BALANCES, CREDIT_REFUND_REQUESTS, CREDIT_TRANSACTIONS
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _opened(tx: ReadModelTx, event: EventEnvelope) -> None:
    tx.execute(
        f"INSERT INTO {tx.t('credit_balances')} (user_id, ledger_id, balance, starting_granted, updated_at, "
        "last_position) VALUES (:user_id, :ledger_id, 0, :no, NULL, :position) ON CONFLICT (user_id) DO NOTHING",
        {"user_id": event.data["user_id"], "ledger_id": event.aggregate_id, "no": False, "position": event.position},
    )


def _transaction(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    metadata: dict[str, Any] = dict(data.get("metadata") or {})
    key = str(data["transaction_key"])
    tx.execute(
        f"INSERT INTO {tx.t('credit_transactions')} (user_id, transaction_key, transaction_type, amount, "
        "running_balance, created_at, graph_exec_id, graph_id, reason, metadata, position) VALUES (:user_id, :key, "
        ":type, :amount, :running_balance, :created_at, :graph_exec_id, :graph_id, :reason, :metadata, :position) "
        "ON CONFLICT (user_id, transaction_key) DO NOTHING",
        {
            "user_id": data["user_id"],
            "key": key,
            "type": _TYPES[event.type],
            "amount": int(data["amount"]),
            "running_balance": int(data["running_balance"]),
            "created_at": data["created_at"],
            "graph_exec_id": _text(metadata.get("graph_exec_id")),
            "graph_id": _text(metadata.get("graph_id")),
            "reason": _text(metadata.get("reason")),
            "metadata": tx.json(metadata),
            "position": event.position,
        },
    )
    starting = key.startswith(STARTING_GRANT_PREFIX)
    # last_position guards against applying one event twice (a redelivery) out of order
    tx.execute(
        f"UPDATE {tx.t('credit_balances')} SET balance = :balance, updated_at = :updated_at, "
        "starting_granted = (starting_granted OR :starting), last_position = :position "
        "WHERE user_id = :user_id AND last_position < :position",
        {
            "balance": int(data["running_balance"]),
            "updated_at": data["created_at"],
            "starting": starting,
            "position": event.position,
            "user_id": data["user_id"],
        },
    )


def _refund_requested(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"INSERT INTO {tx.t('credit_refund_requests')} (request_id, user_id, transaction_key, amount, reason, result, "
        "status, created_at, updated_at, last_position) VALUES (:request_id, :user_id, :key, :amount, :reason, "
        ":result, :status, :created_at, :created_at, :position) ON CONFLICT (request_id) DO NOTHING",
        {
            "request_id": data["request_id"],
            "user_id": data["user_id"],
            "key": data["transaction_key"],
            "amount": int(data["amount"]),
            "reason": data["reason"],
            "result": data["result"],
            "status": data["status"],
            "created_at": data["created_at"],
            "position": event.position,
        },
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_TRANSACTIONS: tuple[type[CreditLedger.Transaction], ...] = (
    CreditLedger.ToppedUp,
    CreditLedger.Granted,
    CreditLedger.Charged,
    CreditLedger.Refunded,
)
_TYPES = {event_type.__qualname__: str(event_type.transaction_type) for event_type in _TRANSACTIONS}

_HANDLERS = EventHandlers[Handler](
    {
        CreditLedger.Opened: _opened,
        **dict.fromkeys(_TRANSACTIONS, _transaction),
        CreditLedger.RefundRequested: _refund_requested,
    }
)


class CreditsProjection(Projection):
    """Credit ledgers -> transactions (with running balance), balances and refund requests."""

    name = "credits"
    contexts = frozenset({"accounts"})
    tables = (CREDIT_TRANSACTIONS, CREDIT_BALANCES, CREDIT_REFUND_REQUESTS)
    handles = _HANDLERS.types
    # the accounts context's other aggregates (API keys, and whatever comes next), and the transactions' base class
    ignores = frozenset(context_event_types("accounts")) - _HANDLERS.types

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
