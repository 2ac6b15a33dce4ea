"""The credit ledger aggregate: short stories of one user's credits."""

from __future__ import annotations

import pytest

from domain import credit_ledger
from domain.credit_ledger import (
    REFUND_APPROVED,
    REFUND_UNDER_REVIEW,
    CreditLedger,
    InsufficientBalanceError,
    RefundAlreadyRequestedError,
    TransactionKeyConflictError,
    TransactionNotFoundError,
    TransactionType,
)


def test_one_ledger_per_user_whatever_the_process() -> None:
    assert CreditLedger.id_for("alice") == CreditLedger.id_for("alice") == CreditLedger.open("alice").id
    assert CreditLedger.id_for("alice") != CreditLedger.id_for("bob")


def test_top_up_grant_and_spend_move_the_balance_with_a_running_balance() -> None:
    ledger = CreditLedger.open("alice")
    assert ledger.top_up(1000, "t1").running_balance == 1000
    assert ledger.grant(200, "g1", {"reason": "welcome"}).running_balance == 1200
    spent = ledger.charge(150, "node-1", {"graph_exec_id": "run-1"})
    assert spent is not None and spent.amount == -150 and spent.type == TransactionType.USAGE
    assert ledger.balance == 1050
    assert ledger.charge(0, "node-2") is None  # a free block records nothing
    types = [type(event).__name__ for event in ledger.collect_events()]
    assert types == ["Opened", "ToppedUp", "Granted", "Charged"]


def test_the_same_key_twice_records_once_and_answers_the_first_outcome() -> None:
    ledger = CreditLedger.open("alice")
    first = ledger.top_up(500, "pi_123")
    ledger.top_up(700, "other")
    again = ledger.top_up(500, "pi_123")
    assert again.already_recorded and not first.already_recorded
    assert (again.running_balance, again.created_at) == (first.running_balance, first.created_at)
    assert ledger.balance == 1200
    assert len(ledger.collect_events()) == 3


def test_a_key_reused_for_another_transaction_is_refused() -> None:
    ledger = CreditLedger.open("alice")
    ledger.top_up(500, "k")
    with pytest.raises(TransactionKeyConflictError, match="Transaction key k already exists for user alice"):
        ledger.top_up(600, "k")
    with pytest.raises(TransactionKeyConflictError):
        ledger.grant(500, "k")
    assert ledger.balance == 500


def test_spending_more_than_the_balance_is_refused_and_records_nothing() -> None:
    ledger = CreditLedger.open("alice")
    ledger.top_up(1000, "t")
    with pytest.raises(InsufficientBalanceError, match=r"Insufficient balance of \$10.0, where this will cost \$10.01"):
        ledger.charge(1001, "node")
    assert ledger.balance == 1000 and ledger.recorded("node") is None
    assert ledger.charge(1000, "node") is not None and ledger.balance == 0
    with pytest.raises(InsufficientBalanceError):
        ledger.grant(-1, "take-away")  # a negative grant may not go below zero either


def test_the_starting_grant_is_given_once() -> None:
    ledger = CreditLedger.open("alice")
    assert ledger.grant_starting_credits(1500) is not None
    assert ledger.grant_starting_credits(1500) is None
    assert ledger.grant_starting_credits(0) is None
    assert ledger.balance == 1500 and "STARTING-GRANT-alice" in ledger.transactions


def test_only_recent_usage_keys_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credit_ledger, "RECENT_USAGE_KEYS", 3)
    ledger = CreditLedger.open("alice")
    ledger.top_up(1000, "t")
    for n in range(5):
        ledger.charge(1, f"node-{n}")
    assert list(ledger.recent_usage) == ["node-2", "node-3", "node-4"]
    assert "t" in ledger.transactions  # money-moving keys are all kept


def test_a_refund_within_the_tolerance_is_made_at_once() -> None:
    ledger = CreditLedger.open("alice")
    ledger.top_up(1000, "t")
    ledger.charge(400, "node")  # the top-up is 400 more than the balance: within 500
    assert ledger.request_refund("t", "changed my mind") == 1000
    assert ledger.balance == -400
    (request,) = ledger.refund_requests.values()
    assert request["status"] == "APPROVED" and request["result"] == REFUND_APPROVED
    assert ledger.recorded("REFUND-t") is not None


def test_a_refund_beyond_the_tolerance_waits_for_review() -> None:
    ledger = CreditLedger.open("alice")
    ledger.top_up(1000, "t")
    ledger.charge(600, "node")
    assert ledger.request_refund("t", "too much") == 0
    assert ledger.balance == 400
    (request,) = ledger.refund_requests.values()
    assert request["status"] == "PENDING" and request["result"] == REFUND_UNDER_REVIEW


def test_one_refund_request_per_week_and_only_of_a_top_up() -> None:
    ledger = CreditLedger.open("alice")
    ledger.top_up(1000, "t1")
    ledger.top_up(1000, "t2")
    ledger.grant(100, "g")
    with pytest.raises(TransactionNotFoundError):
        ledger.request_refund("g", "a grant is no top-up")
    with pytest.raises(TransactionNotFoundError):
        ledger.request_refund("nope", "unknown")
    ledger.request_refund("t1", "first")
    with pytest.raises(RefundAlreadyRequestedError, match="within the same week has already been made"):
        ledger.request_refund("t2", "second the same week")
