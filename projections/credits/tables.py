"""The credits read-model tables: each user's transactions with running balance, balances, refund requests."""

from __future__ import annotations

from projections.schema import Column, Table

CREDIT_TRANSACTIONS = Table(
    name="credit_transactions",
    comment="One row per credit transaction (AutoGPT's CreditTransaction): signed amount and balance after it.",
    columns=(
        Column("user_id", "text", "Owner."),
        Column("transaction_key", "text", "The transaction's key, unique per user (an idempotency key or a uuid)."),
        Column("transaction_type", "text", "TOP_UP, GRANT, USAGE or REFUND."),
        Column("amount", "int", "Credits (1 credit = 1 US cent); negative for USAGE and REFUND."),
        Column("running_balance", "int", "The user's balance after this transaction."),
        Column("created_at", "timestamp", "When it was recorded."),
        Column("graph_exec_id", "text", "USAGE: the graph execution charged, if any."),
        Column("graph_id", "text", "USAGE: the graph of that execution, if any."),
        Column("reason", "text", "Why (the metadata's reason), if given."),
        Column("metadata", "json", "The transaction's metadata as recorded (admin id, usage details ...)."),
        Column("position", "int", "Position of the transaction's event in the accounts log."),
    ),
    primary_key=("user_id", "transaction_key"),
    indexes=(("user_id", "created_at"),),
)

CREDIT_BALANCES = Table(
    name="credit_balances",
    comment="One row per user with a ledger: the balance after the user's newest transaction.",
    columns=(
        Column("user_id", "text", "Owner."),
        Column("ledger_id", "text", "The user's ledger (aggregate id, derived from the user id)."),
        Column("balance", "int", "Credits now."),
        Column("starting_granted", "bool", "True once the user's starting grant (STARTING-GRANT-<user>) is recorded."),
        Column("updated_at", "timestamp", "Time of the newest transaction."),
        Column("last_position", "int", "Position in the accounts log of the last event applied to this row."),
    ),
    primary_key=("user_id",),
)

CREDIT_REFUND_REQUESTS = Table(
    name="credit_refund_requests",
    comment="Refund requests of top-ups (AutoGPT's CreditRefundRequest), at most one per user per ISO week.",
    columns=(
        Column("request_id", "text", "<YYYY-WW of the top-up>-<user_id>."),
        Column("user_id", "text", "Owner."),
        Column("transaction_key", "text", "The top-up to refund."),
        Column("amount", "int", "Credits of that top-up."),
        Column("reason", "text", "The user's reason."),
        Column("result", "text", "What the user is told about it."),
        Column("status", "text", "PENDING, APPROVED or REJECTED."),
        Column("created_at", "timestamp", "When it was requested."),
        Column("updated_at", "timestamp", "When its status last changed."),
        Column("last_position", "int", "Position in the accounts log of the last event applied to this row."),
    ),
    primary_key=("request_id",),
    indexes=(("user_id",),),
)
