"""Notifications: a user's preferences and read marks (commands), and the e-mail delivery of notifications.

Commands record on the user's ``NotificationPreferences`` aggregate in the accounts context; the inbox itself
is a read model (``projections.notifications``).

E-mail delivery (AutoGPT's strategies, applied at the delivery port):
- IMMEDIATE (LOW_BALANCE, ZERO_BALANCE, AGENT_APPROVED, AGENT_REJECTED): one e-mail per notification;
- BATCH: a digest of every pending notification of the type once the OLDEST is older than the type's delay
  (AGENT_RUN 1 day, BLOCK_EXECUTION_FAILED 60 minutes: AutoGPT's BACKOFF queue has no consumer; here it is
  batched like the other 60-minute types);
- a type the user turned off, or a user without an e-mail address: the notifications are dropped (recorded,
  never e-mailed later, as AutoGPT acknowledges and drops them);
- ``daily_limit``: at most that many e-mails (a digest is one) per UTC day; what is over waits for the next day.

Effects once: the deliverer records each e-mail on the user's aggregate (``EmailSent``, optimistic
concurrency: two deliverers cannot both record it) BEFORE handing it to the port, and the aggregate refuses a
notification it already recorded. So a notification is never e-mailed twice, even across a deliverer killed
mid-way or two deliverers at once; a deliverer killed between the record and the send loses that one e-mail
(at most once: the port gets the e-mail's ``key``, stable per e-mail, for a provider that deduplicates).
The deliverer's position is the read model of those records: it resumes from what is recorded, wherever.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.accounts import AccountsApplication
from application.results import Written, position_of
from domain.notification_preferences import NotificationPreferences, NotificationType, wants

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
"""Now, timezone-aware (injectable: tests move it)."""

IMMEDIATE_TYPES = frozenset(
    {
        NotificationType.LOW_BALANCE,
        NotificationType.ZERO_BALANCE,
        NotificationType.AGENT_APPROVED,
        NotificationType.AGENT_REJECTED,
    }
)
"""One e-mail per notification."""

BATCH_DELAYS: dict[str, timedelta] = {
    NotificationType.AGENT_RUN: timedelta(days=1),
    NotificationType.BLOCK_EXECUTION_FAILED: timedelta(minutes=60),
    NotificationType.CONTINUOUS_AGENT_ERROR: timedelta(minutes=60),
}
"""A digest goes once the oldest pending notification of the type is this old (AutoGPT's delays)."""

DEFAULT_BATCH_DELAY = timedelta(minutes=60)
"""The delay of any other batched type."""

SUBJECTS: dict[str, str] = {
    NotificationType.AGENT_RUN: "Agent Run Report",
    NotificationType.ZERO_BALANCE: "You're out of credits!",
    NotificationType.LOW_BALANCE: "Low Balance Warning!",
    NotificationType.BLOCK_EXECUTION_FAILED: "Uh oh! Block Execution Failed",
    NotificationType.CONTINUOUS_AGENT_ERROR: "Shoot! Continuous Agent Error",
    NotificationType.AGENT_APPROVED: "Your agent was approved",
    NotificationType.AGENT_REJECTED: "Your agent was not approved",
}
"""AutoGPT's subjects (the store's two are not recorded there: ours)."""

MAIL_NAMESPACE = uuid.UUID("a8c0f3e1-27d4-4a61-b9e5-5c2f4d8e7a90")
"""Namespace of e-mail keys."""


# -- commands -------------------------------------------------------------------------------------------------


class NotificationCommands:
    """The user's notification commands, on the accounts context."""

    def __init__(self, accounts: AccountsApplication) -> None:
        self._accounts = accounts

    def set_preferences(self, user_id: str, email: str, preferences: dict[str, bool], daily_limit: int) -> Written:
        """Save the user's e-mail, preferences and daily e-mail limit."""

        def attempt(prefs: NotificationPreferences) -> None:
            prefs.set_preferences(email, preferences, daily_limit)

        return self._change(user_id, attempt)

    def mark_read(self, user_id: str, notification_id: str) -> Written:
        """Mark one of the user's notifications read (the caller checked it is theirs); marking twice is a no-op."""

        def attempt(prefs: NotificationPreferences) -> None:
            prefs.mark_read(notification_id)

        return self._change(user_id, attempt)

    def _change(self, user_id: str, verb: Callable[[NotificationPreferences], None]) -> Written:
        for attempt in range(CONFLICT_ATTEMPTS):
            prefs = load_preferences(self._accounts, user_id) or NotificationPreferences.open(user_id)
            verb(prefs)
            try:
                recordings = self._accounts.save(prefs) if prefs.pending_events else []
            except IntegrityError:
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                continue
            return Written(prefs.id, position_of(recordings))
        raise AssertionError("unreachable")


CONFLICT_ATTEMPTS = 5
"""Attempts of a command that meets a concurrent change of the same user's settings."""


def load_preferences(accounts: AccountsApplication, user_id: str) -> NotificationPreferences | None:
    """The user's stored settings, or None."""
    try:
        prefs: object = accounts.repository.get(NotificationPreferences.id_for(user_id))
    except AggregateNotFoundError:
        return None
    return prefs if isinstance(prefs, NotificationPreferences) else None


# -- the e-mail port ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    """One e-mail: a single notification, or a digest of several of one type."""

    key: str
    """Stable per e-mail (a provider that deduplicates by it sends it once)."""
    to: str
    user_id: str
    notification_type: str
    subject: str
    items: list[dict[str, Any]]
    """Each notification's id, created_at and data."""


class EmailSender(Protocol):
    """Where e-mails go (a log in this build; a mail provider's API in a deployment)."""

    def send(self, email: Email) -> None:
        """Send ``email`` (raise when it could not be handed over)."""
        ...


@dataclass(frozen=True)
class PendingNotification:
    """A notification the deliverer has not handled yet."""

    id: str
    user_id: str
    type: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


class PendingNotifications(Protocol):
    """The read side the deliverer works from."""

    def pending(self, limit: int) -> list[PendingNotification]:
        """Up to ``limit`` notifications neither e-mailed nor dropped, oldest first."""
        ...


# -- delivery -------------------------------------------------------------------------------------------------


@dataclass
class DeliveryRound:
    """What one round did."""

    sent: list[Email] = field(default_factory=list)
    dropped: int = 0
    waiting: int = 0


def batch_delay(notification_type: str) -> timedelta:
    """How long a batched type's oldest notification waits before its digest goes."""
    return BATCH_DELAYS.get(notification_type, DEFAULT_BATCH_DELAY)


class NotificationDeliverer:
    """E-mails pending notifications by their type's strategy, within each user's daily limit."""

    def __init__(
        self,
        accounts: AccountsApplication,
        source: PendingNotifications,
        sender: EmailSender,
        clock: Clock | None = None,
        *,
        scan_limit: int = 1000,
    ) -> None:
        self._accounts = accounts
        self._source = source
        self._sender = sender
        self._clock = clock or (lambda: datetime.now(UTC))
        self._scan_limit = scan_limit

    def run_once(self) -> DeliveryRound:
        """One round: record and send what is due now."""
        now = self._clock()
        outcome = DeliveryRound()
        by_user: dict[str, list[PendingNotification]] = {}
        for notification in self._source.pending(self._scan_limit):
            by_user.setdefault(notification.user_id, []).append(notification)
        for user_id, notifications in by_user.items():
            try:
                self._deliver(user_id, notifications, now, outcome)
            except IntegrityError:  # another deliverer recorded for this user meanwhile: next round
                log.info("notification e-mails of user %s were recorded concurrently: next round", user_id)
        return outcome

    def _deliver(
        self, user_id: str, notifications: Sequence[PendingNotification], now: datetime, outcome: DeliveryRound
    ) -> None:
        prefs = load_preferences(self._accounts, user_id) or NotificationPreferences.open(user_id)
        fresh = [n for n in notifications if n.id not in prefs.handled]
        unwanted = [n.id for n in fresh if not prefs.email or not wants(prefs.preferences, n.type)]
        if unwanted:
            prefs.drop(unwanted, "no e-mail address" if not prefs.email else "turned off")
            outcome.dropped += len(unwanted)
        day = now.astimezone(UTC).date().isoformat()
        mails: list[Email] = []
        for kind, group in _by_type([n for n in fresh if n.id not in unwanted]).items():
            due = [[n] for n in group] if kind in IMMEDIATE_TYPES else _due_digest(kind, group, now)
            for items in due:
                if prefs.emails_sent_on(day) >= prefs.daily_limit:
                    outcome.waiting += len(items)
                    continue
                mail = _email(prefs, kind, items)
                if prefs.record_email([n.id for n in items], kind, mail.key, now):
                    mails.append(mail)
        if prefs.pending_events:
            self._accounts.save(prefs)  # recorded first: a crash from here on never sends twice
        for mail in mails:
            try:
                self._sender.send(mail)
            except Exception:
                log.exception("e-mail %s to user %s was recorded but not sent", mail.key, user_id)
                continue
            outcome.sent.append(mail)


def _by_type(notifications: Sequence[PendingNotification]) -> dict[str, list[PendingNotification]]:
    groups: dict[str, list[PendingNotification]] = {}
    for notification in sorted(notifications, key=lambda n: (n.created_at, n.id)):
        groups.setdefault(notification.type, []).append(notification)
    return groups


def _due_digest(kind: str, group: list[PendingNotification], now: datetime) -> list[list[PendingNotification]]:
    """The whole batch once its oldest notification waited the type's delay, else nothing yet."""
    return [group] if group and now - group[0].created_at >= batch_delay(kind) else []


def _email(prefs: NotificationPreferences, kind: str, items: list[PendingNotification]) -> Email:
    key = str(uuid.uuid5(MAIL_NAMESPACE, ",".join(n.id for n in items)))
    subject = SUBJECTS.get(kind, kind.replace("_", " ").title())
    return Email(
        key=key,
        to=prefs.email,
        user_id=prefs.user_id,
        notification_type=kind,
        subject=subject if len(items) == 1 else f"{subject} ({len(items)})",
        items=[{"id": n.id, "created_at": n.created_at.isoformat(), "data": n.data} for n in items],
    )
