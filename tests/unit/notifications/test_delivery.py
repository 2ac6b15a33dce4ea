"""The e-mail deliverer at its port: strategies, AutoGPT's batching delays, the daily limit, preferences, and
never two e-mails for one notification (an injectable clock; the test double of the port)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.accounts import AccountsApplication
from application.notifications import (
    NotificationCommands,
    NotificationDeliverer,
    PendingNotification,
    load_preferences,
)
from tests.fakes.email import RecordingEmailSender

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Inbox:
    """The read side as the deliverer sees it: every notification, less those the aggregate handled (caught up)
    or all of them (``lagging``: the read model has not seen the deliverer's records yet)."""

    def __init__(self, accounts: AccountsApplication) -> None:
        self.accounts = accounts
        self.items: list[PendingNotification] = []
        self.lagging = False

    def add(self, notification_id: str, kind: str, at: datetime, user: str = "alice") -> None:
        self.items.append(PendingNotification(notification_id, user, kind, at, {"n": notification_id}))

    def pending(self, limit: int) -> list[PendingNotification]:
        if self.lagging:
            return self.items[:limit]
        handled: dict[str, set[str]] = {}
        for item in self.items:
            if item.user_id not in handled:
                prefs = load_preferences(self.accounts, item.user_id)
                handled[item.user_id] = set(prefs.handled) if prefs else set()
        return [i for i in self.items if i.id not in handled[i.user_id]][:limit]


def setup(daily_limit: int = 10, **off: bool) -> tuple[AccountsApplication, Inbox, RecordingEmailSender, Clock]:
    accounts = AccountsApplication()
    NotificationCommands(accounts).set_preferences("alice", "alice@example.com", off, daily_limit)
    return accounts, Inbox(accounts), RecordingEmailSender(), Clock()


def test_immediate_types_go_one_by_one_and_agent_runs_wait_a_day_for_one_digest() -> None:
    accounts, inbox, mails, clock = setup()
    deliverer = NotificationDeliverer(accounts, inbox, mails, clock)
    inbox.add("low", "LOW_BALANCE", T0)
    inbox.add("zero", "ZERO_BALANCE", T0)
    inbox.add("run1", "AGENT_RUN", T0)
    deliverer.run_once()
    assert sorted((m.notification_type, len(m.items)) for m in mails.sent) == [("LOW_BALANCE", 1), ("ZERO_BALANCE", 1)]
    assert {m.to for m in mails.sent} == {"alice@example.com"}
    inbox.add("run2", "AGENT_RUN", T0 + timedelta(hours=3))
    clock.now = T0 + timedelta(hours=23, minutes=59)
    deliverer.run_once()
    assert len(mails.sent) == 2  # the oldest run is not a day old yet
    clock.now = T0 + timedelta(days=1)
    deliverer.run_once()
    digest = mails.sent[-1]
    assert digest.notification_type == "AGENT_RUN" and [i["id"] for i in digest.items] == ["run1", "run2"]
    assert digest.subject == "Agent Run Report (2)"
    deliverer.run_once()
    assert len(mails.sent) == 3


def test_failed_blocks_are_batched_for_sixty_minutes() -> None:
    accounts, inbox, mails, clock = setup()
    deliverer = NotificationDeliverer(accounts, inbox, mails, clock)
    inbox.add("b1", "BLOCK_EXECUTION_FAILED", T0)
    clock.now = T0 + timedelta(minutes=30)
    inbox.add("b2", "BLOCK_EXECUTION_FAILED", clock.now)
    deliverer.run_once()
    assert mails.sent == []
    clock.now = T0 + timedelta(minutes=60)
    deliverer.run_once()
    (digest,) = mails.sent
    assert [i["id"] for i in digest.items] == ["b1", "b2"]


def test_the_daily_limit_holds_the_rest_until_the_next_utc_day() -> None:
    accounts, inbox, mails, clock = setup(daily_limit=2)
    deliverer = NotificationDeliverer(accounts, inbox, mails, clock)
    for i in range(3):
        inbox.add(f"low{i}", "LOW_BALANCE", T0)
    deliverer.run_once()
    assert [m.items[0]["id"] for m in mails.sent] == ["low0", "low1"]
    clock.now = T0 + timedelta(hours=10)
    deliverer.run_once()
    assert len(mails.sent) == 2
    clock.now = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    deliverer.run_once()
    assert [m.items[0]["id"] for m in mails.sent] == ["low0", "low1", "low2"]


def test_a_type_turned_off_or_no_address_is_dropped_for_good() -> None:
    accounts, inbox, mails, clock = setup(LOW_BALANCE=False)
    deliverer = NotificationDeliverer(accounts, inbox, mails, clock)
    inbox.add("low", "LOW_BALANCE", T0)
    inbox.add("zero", "ZERO_BALANCE", T0)
    inbox.add("bobs", "ZERO_BALANCE", T0, user="bob")  # bob never gave an address
    round_one = deliverer.run_once()
    assert [m.items[0]["id"] for m in mails.sent] == ["zero"] and round_one.dropped == 2
    NotificationCommands(accounts).set_preferences("alice", "alice@example.com", {"LOW_BALANCE": True}, 10)
    deliverer.run_once()
    assert len(mails.sent) == 1  # turning it on again does not mail what was dropped


def test_a_notification_is_never_mailed_twice_by_a_lagging_read_model_or_a_second_deliverer() -> None:
    accounts, inbox, mails, clock = setup()
    inbox.lagging = True  # the read model does not show what was sent
    first = NotificationDeliverer(accounts, inbox, mails, clock)
    second = NotificationDeliverer(accounts, inbox, mails, clock)
    inbox.add("low", "LOW_BALANCE", T0)
    first.run_once()
    second.run_once()
    first.run_once()
    assert [m.items[0]["id"] for m in mails.sent] == ["low"]
    # a send that fails after the record is not retried (at most once): no second e-mail either
    mails.failing = True
    inbox.add("zero", "ZERO_BALANCE", T0)
    first.run_once()
    mails.failing = False
    second.run_once()
    assert [m.items[0]["id"] for m in mails.sent] == ["low"]
    prefs = load_preferences(accounts, "alice")
    assert prefs is not None and prefs.handled == {"low", "zero"}
