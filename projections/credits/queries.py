"""Credits queries, in AutoGPT's shapes: the balance, the transaction history (grouped), refund requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.credit_ledger import TransactionType
from projections.store import ReadSource, iso

PROJECTION = "credits"
"""The projection these queries read (``projections.credits.projection``)."""

MAX_TRANSACTIONS = 1000
"""``transaction_count_limit`` is 1 to this (AutoGPT's bounds)."""

MAX_REFUND_REQUESTS = 1000
"""A list answers at most this many refund requests (newest first)."""


class UserTransaction(BaseModel):
    """One line of the history (AutoGPT's ``UserTransaction``): a transaction, or a run's usage summed up."""

    transaction_key: str = ""
    transaction_time: str | None = None
    transaction_type: TransactionType = TransactionType.USAGE
    amount: int = 0
    running_balance: int = 0
    current_balance: int = 0
    description: str | None = None
    usage_graph_id: str | None = None
    usage_execution_id: str | None = None
    usage_node_count: int = 0
    usage_start_time: str | None = None
    user_id: str = ""
    user_email: str | None = None
    reason: str | None = None
    admin_email: str | None = None
    extra_data: str | None = None


class TransactionHistory(BaseModel):
    """A page of the history, newest first; ``next_transaction_time`` is the cursor of the next page (or null)."""

    transactions: list[UserTransaction]
    next_transaction_time: str | None = Field(
        default=None, description="Pass as transaction_time for the next page; null on the last page"
    )


class RefundRequest(BaseModel):
    """A refund request (AutoGPT's ``RefundRequest``)."""

    id: str
    user_id: str
    transaction_key: str
    amount: int
    reason: str
    result: str | None = None
    status: str
    created_at: str
    updated_at: str


def _group(rows: list[dict[str, Any]]) -> list[UserTransaction]:
    """Rows (newest first) as history lines: USAGE rows of one graph execution become one line, as AutoGPT does."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        kind = str(row["transaction_type"])
        exec_id = row["graph_exec_id"]
        group = f"USAGE-{exec_id}" if kind == TransactionType.USAGE and exec_id else f"{kind}-{row['transaction_key']}"
        groups.setdefault(group, []).append(row)
    return [_line(group) for group in groups.values()]


def _line(rows: list[dict[str, Any]]) -> UserTransaction:
    """One history line from its rows (newest first): the newest row's time and balance, the amounts summed."""
    newest, oldest = rows[0], rows[-1]
    kind = TransactionType(str(newest["transaction_type"]))
    exec_id, graph_id = newest["graph_exec_id"], newest["graph_id"]
    per_run = kind == TransactionType.USAGE and bool(exec_id)
    return UserTransaction(
        transaction_key=str(newest["transaction_key"]),
        transaction_time=iso(newest["created_at"]),
        transaction_type=kind,
        amount=sum(int(row["amount"]) for row in rows),
        running_balance=int(newest["running_balance"]),
        description=f"Graph #{str(graph_id or '')[:8]} Execution" if per_run else f"{kind} Transaction",
        usage_graph_id=graph_id if per_run else None,
        usage_execution_id=exec_id if per_run else None,
        usage_node_count=len(rows) if kind == TransactionType.USAGE else 0,
        usage_start_time=iso(oldest["created_at"]),
        user_id=str(newest["user_id"]),
        reason=newest["reason"],
    )


class CreditQueries:
    """Reads of the credits read models, always scoped to one user.

    ``starting_credits`` is the starting grant when credits are enabled (else
    0): a user whose grant is not recorded yet (it is, with their first
    transaction) is shown it already, as the ledger counts it.
    """

    def __init__(self, store: ReadSource, *, starting_credits: int = 0) -> None:
        self._store = store
        self._starting = starting_credits

    def balance(self, user_id: str) -> int:
        """The user's credits."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT balance, starting_granted FROM {tx.t('credit_balances')} WHERE user_id = :user_id",
                {"user_id": user_id},
            )
        if row is None:
            return self._starting
        return int(row["balance"]) + (0 if row["starting_granted"] else self._starting)

    def transactions(
        self,
        user_id: str,
        before: datetime | None,
        transaction_type: TransactionType | None,
        limit: int,
    ) -> TransactionHistory:
        """``limit`` transactions of the user older than ``before`` (newest first), grouped per run."""
        where = ["user_id = :user_id"]
        params: dict[str, Any] = {"user_id": user_id}
        if before is not None:
            where.append("created_at < :before")
            # one text form for both stores (SQLite compares the ISO texts): UTC, microseconds always written
            utc = before.astimezone(UTC) if before.tzinfo else before.replace(tzinfo=UTC)
            params["before"] = utc.isoformat(timespec="microseconds")
        if transaction_type is not None:
            where.append("transaction_type = :type")
            params["type"] = str(transaction_type)
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('credit_transactions')} WHERE {' AND '.join(where)} "
                f"ORDER BY created_at DESC, position DESC LIMIT {int(limit)}",
                params,
            )
        cursor = iso(rows[-1]["created_at"]) if len(rows) == limit else None
        return TransactionHistory(transactions=_group(rows), next_transaction_time=cursor)

    def refund_requests(self, user_id: str) -> list[RefundRequest]:
        """The user's refund requests, newest first."""
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('credit_refund_requests')} WHERE user_id = :user_id "
                f"ORDER BY created_at DESC LIMIT {MAX_REFUND_REQUESTS}",
                {"user_id": user_id},
            )
        return [
            RefundRequest(
                id=str(row["request_id"]),
                user_id=str(row["user_id"]),
                transaction_key=str(row["transaction_key"]),
                amount=int(row["amount"]),
                reason=str(row["reason"]),
                result=row["result"],
                status=str(row["status"]),
                created_at=iso(row["created_at"]) or "",
                updated_at=iso(row["updated_at"]) or "",
            )
            for row in rows
        ]
