"""A user's notification settings: which types they want, their e-mail, the daily e-mail limit, and the facts
the notification inbox and the e-mail deliverer record about them (read marks, e-mails sent).

``NotificationPreferences`` is one aggregate per user in the accounts context (its id derived from the user
id, as the credit ledger's). Notifications themselves are a read model (``projections.notifications``) made
from other contexts' events; what a user does to them (marking one read) and what the deliverer did (an
e-mail sent, or notifications dropped because the type was opted out) is recorded here, so the inbox is
rebuildable and a notification is never e-mailed twice: the deliverer records the e-mail before it sends it,
and this aggregate refuses a notification it already recorded.

AutoGPT's defaults: every type wanted, ``daily_limit`` 3 (the ``maxEmailsPerDay`` column default).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("6f1b3c52-9a0e-4bde-8a51-2d7e0c1a9b44")
"""Namespace of the per-user aggregate ids (never change it)."""


class NotificationType(enum.StrEnum):
    """AutoGPT's ``NotificationType`` (Prisma enum)."""

    AGENT_RUN = "AGENT_RUN"
    ZERO_BALANCE = "ZERO_BALANCE"
    LOW_BALANCE = "LOW_BALANCE"
    BLOCK_EXECUTION_FAILED = "BLOCK_EXECUTION_FAILED"
    CONTINUOUS_AGENT_ERROR = "CONTINUOUS_AGENT_ERROR"
    DAILY_SUMMARY = "DAILY_SUMMARY"
    WEEKLY_SUMMARY = "WEEKLY_SUMMARY"
    MONTHLY_SUMMARY = "MONTHLY_SUMMARY"
    REFUND_REQUEST = "REFUND_REQUEST"
    REFUND_PROCESSED = "REFUND_PROCESSED"
    AGENT_APPROVED = "AGENT_APPROVED"
    AGENT_REJECTED = "AGENT_REJECTED"


PREFERABLE_TYPES = (
    NotificationType.AGENT_RUN,
    NotificationType.ZERO_BALANCE,
    NotificationType.LOW_BALANCE,
    NotificationType.BLOCK_EXECUTION_FAILED,
    NotificationType.CONTINUOUS_AGENT_ERROR,
    NotificationType.DAILY_SUMMARY,
    NotificationType.WEEKLY_SUMMARY,
    NotificationType.MONTHLY_SUMMARY,
    NotificationType.AGENT_APPROVED,
    NotificationType.AGENT_REJECTED,
)
"""The types a user can turn off (AutoGPT's ``notifyOn*`` user columns, all on by default)."""

DEFAULT_DAILY_LIMIT = 3
"""AutoGPT's ``maxEmailsPerDay`` column default."""

MAX_DAILY_LIMIT = 1000
"""The highest daily e-mail limit a user may set."""

MAX_EMAIL_LENGTH = 320
"""An e-mail address longer than this is refused (RFC 5321's limits)."""


def default_preferences() -> dict[str, bool]:
    """Every preferable type, on."""
    return dict.fromkeys(map(str, PREFERABLE_TYPES), True)


def wants(preferences: dict[str, bool], notification_type: str) -> bool:
    """True unless the user turned ``notification_type`` off (a type with no preference is always wanted)."""
    return bool(preferences.get(notification_type, True))


def _now() -> str:
    return datetime.now(UTC).isoformat()


class NotificationPreferences(Aggregate):
    """One user's notification settings, read marks and e-mails sent."""

    class Opened(Aggregate.Created):
        """The user's settings were first written (by their first change)."""

        user_id: str

    @event(Opened)
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.email = ""
        self.preferences = default_preferences()
        self.daily_limit = DEFAULT_DAILY_LIMIT
        self.updated_at = ""
        self.read: dict[str, str] = {}
        """Notifications marked read, and when."""
        self.handled: set[str] = set()
        """Notifications e-mailed or dropped (never e-mailed again)."""
        self.sent_on: dict[str, int] = {}
        """E-mails sent per UTC day (``YYYY-MM-DD``); only the newest day is kept."""

    @staticmethod
    def id_for(user_id: str) -> uuid.UUID:
        """The aggregate id of ``user_id``'s settings (the same in every process, for ever)."""
        return uuid.uuid5(NAMESPACE, user_id)

    @classmethod
    def open(cls, user_id: str) -> NotificationPreferences:
        """New settings of ``user_id`` with AutoGPT's defaults."""
        return cls._create(cls.Opened, id=cls.id_for(user_id), user_id=user_id)

    # -- preferences ------------------------------------------------------------

    def set_preferences(self, email: str, preferences: dict[str, bool], daily_limit: int) -> None:
        """Replace the e-mail, the preferences given (others keep their value) and the daily limit."""
        merged = {**self.preferences, **{str(NotificationType(k)): bool(v) for k, v in preferences.items()}}
        self._preferences_set(
            user_id=self.user_id, email=email, preferences=merged, daily_limit=daily_limit, updated_at=_now()
        )

    class PreferencesSet(Aggregate.Event):
        """The user saved their notification preferences."""

        user_id: str
        email: str
        preferences: dict[str, bool]
        daily_limit: int
        updated_at: str

    @event(PreferencesSet)
    def _preferences_set(
        self, user_id: str, email: str, preferences: dict[str, bool], daily_limit: int, updated_at: str
    ) -> None:
        self.email = email
        self.preferences = dict(preferences)
        self.daily_limit = daily_limit
        self.updated_at = updated_at

    # -- the inbox --------------------------------------------------------------

    def mark_read(self, notification_id: str) -> bool:
        """Mark one notification read; False when it already was."""
        if notification_id in self.read:
            return False
        self._marked_read(user_id=self.user_id, notification_id=notification_id, read_at=_now())
        return True

    class MarkedRead(Aggregate.Event):
        """The user read one notification."""

        user_id: str
        notification_id: str
        read_at: str

    @event(MarkedRead)
    def _marked_read(self, user_id: str, notification_id: str, read_at: str) -> None:
        self.read[notification_id] = read_at

    # -- e-mail -----------------------------------------------------------------

    def emails_sent_on(self, day: str) -> int:
        """E-mails sent on the UTC day ``day`` (``YYYY-MM-DD``)."""
        return self.sent_on.get(day, 0)

    def record_email(self, notification_ids: list[str], notification_type: str, mail_key: str, at: datetime) -> bool:
        """Record one e-mail about ``notification_ids`` (before it is sent); False if any was already handled."""
        if not notification_ids or any(i in self.handled for i in notification_ids):
            return False
        self._email_sent(
            user_id=self.user_id,
            notification_ids=list(notification_ids),
            notification_type=notification_type,
            mail_key=mail_key,
            sent_at=at.astimezone(UTC).isoformat(),
        )
        return True

    class EmailSent(Aggregate.Event):
        """One e-mail (a single notification, or a digest of several) is sent to the user."""

        user_id: str
        notification_ids: list[str]
        notification_type: str
        mail_key: str
        sent_at: str

    @event(EmailSent)
    def _email_sent(
        self, user_id: str, notification_ids: list[str], notification_type: str, mail_key: str, sent_at: str
    ) -> None:
        self.handled.update(notification_ids)
        day = sent_at[:10]
        self.sent_on = {day: self.sent_on.get(day, 0) + 1}

    def drop(self, notification_ids: list[str], reason: str) -> bool:
        """Never e-mail ``notification_ids`` (opted out, or no e-mail address); False if none is new."""
        fresh = [i for i in notification_ids if i not in self.handled]
        if not fresh:
            return False
        self._emails_dropped(user_id=self.user_id, notification_ids=fresh, reason=reason)
        return True

    class EmailsDropped(Aggregate.Event):
        """Notifications that will never be e-mailed (their type was opted out when they were due)."""

        user_id: str
        notification_ids: list[str]
        reason: str

    @event(EmailsDropped)
    def _emails_dropped(self, user_id: str, notification_ids: list[str], reason: str) -> None:
        self.handled.update(notification_ids)
