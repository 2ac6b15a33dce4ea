"""Notifications as a user reads them: their preferences, their notifications (unread first), one by id.

Every read is scoped to one user: another user's notification is not found. Preferences are applied here: a
type the user turned off is neither listed nor found (and so neither pushed nor e-mailed) while it is off;
turning it on again shows what was stored meanwhile (decision: opting out hides, it does not delete).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from application.notifications import PendingNotification
from domain.graph_validation import BlockLookup
from domain.notification_preferences import DEFAULT_DAILY_LIMIT, default_preferences, wants
from projections.store import ReadModelTx, ReadSource, iso, json_value

PROJECTION = "notifications"
"""The projection these queries read (``projections.notifications.projection``)."""

MAX_PAGE_SIZE = 100
"""``page_size`` is 1 to this."""

MAX_PAGE = 10_000
"""``page`` is 1 to this."""


class NotificationPreference(BaseModel):
    """AutoGPT's ``NotificationPreference``."""

    user_id: str
    email: str
    preferences: dict[str, bool]
    daily_limit: int
    emails_sent_today: int
    last_reset_date: str


class Notification(BaseModel):
    """One notification of the user (AutoGPT's ``NotificationEvent`` with its id and read mark)."""

    id: str
    user_id: str
    type: str
    created_at: str
    read: bool
    read_at: str | None = None
    data: dict[str, Any]


class Pagination(BaseModel):
    """AutoGPT's ``Pagination``."""

    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class NotificationPage(BaseModel):
    """A page of the user's notifications: unread first, then newest first."""

    notifications: list[Notification]
    pagination: Pagination = Field(description="Where this page sits")


def today(now: datetime) -> str:
    """The UTC day of ``now`` (``YYYY-MM-DD``): the day the daily e-mail limit counts."""
    return now.astimezone(UTC).date().isoformat()


def user_preferences(tx: ReadModelTx, user_id: str) -> dict[str, Any]:
    """The user's saved preferences row as values, or AutoGPT's defaults."""
    row = tx.fetchone(
        f"SELECT email, preferences, daily_limit FROM {tx.t('notification_preferences')} WHERE user_id = :user_id",
        {"user_id": user_id},
    )
    if row is None:
        return {"email": "", "preferences": default_preferences(), "daily_limit": DEFAULT_DAILY_LIMIT}
    return {
        "email": str(row["email"]),
        "preferences": {**default_preferences(), **(json_value(row["preferences"]) or {})},
        "daily_limit": int(row["daily_limit"]),
    }


def emails_sent_on(tx: ReadModelTx, user_id: str, day: str) -> int:
    """E-mails (a digest counts once) sent to the user on the UTC day ``day``."""
    row = tx.fetchone(
        f"SELECT COUNT(DISTINCT mail_key) AS n FROM {tx.t('notification_emails')} "
        "WHERE user_id = :user_id AND day = :day AND status = 'SENT'",
        {"user_id": user_id, "day": day},
    )
    return int(row["n"]) if row else 0


class NotificationQueries:
    """Reads of the notifications read models, always scoped to one user."""

    def __init__(self, store: ReadSource, lookup: BlockLookup) -> None:
        self._store = store
        self._lookup = lookup

    def preferences(self, user_id: str, now: datetime | None = None) -> NotificationPreference:
        """The user's preferences with the e-mails sent today (UTC)."""
        moment = now or datetime.now(UTC)
        day = today(moment)
        with self._store.transaction() as tx:
            saved = user_preferences(tx, user_id)
            sent = emails_sent_on(tx, user_id, day)
        return NotificationPreference(
            user_id=user_id,
            email=saved["email"],
            preferences=saved["preferences"],
            daily_limit=saved["daily_limit"],
            emails_sent_today=sent,
            last_reset_date=f"{day}T00:00:00+00:00",
        )

    def page(self, user_id: str, page: int, page_size: int) -> NotificationPage:
        """One page of the user's notifications of the types they want: unread first, then newest first."""
        with self._store.transaction() as tx:
            off = _turned_off(tx, user_id)
            where, params = _scope(user_id, off)
            total_row = tx.fetchone(f"SELECT COUNT(*) AS n FROM {tx.t('notifications')} n WHERE {where}", params)
            rows = tx.fetchall(
                f"SELECT n.*, r.read_at FROM {tx.t('notifications')} n LEFT JOIN {tx.t('notification_reads')} r "
                f"ON r.user_id = n.user_id AND r.notification_id = n.id WHERE {where} "
                "ORDER BY CASE WHEN r.read_at IS NULL THEN 0 ELSE 1 END, n.created_at DESC, n.id "
                f"LIMIT {int(page_size)} OFFSET {int((page - 1) * page_size)}",
                params,
            )
            notifications = self._shown(tx, rows)
        total = int(total_row["n"]) if total_row else 0
        return NotificationPage(
            notifications=notifications,
            pagination=Pagination(
                total_items=total,
                total_pages=(total + page_size - 1) // page_size,
                current_page=page,
                page_size=page_size,
            ),
        )

    def get(self, user_id: str, notification_id: str) -> Notification | None:
        """One of the user's notifications of a type they want, or None (another user's is None too)."""
        found = self.by_ids([notification_id])
        return found[0] if found and found[0].user_id == user_id else None

    def by_ids(self, notification_ids: list[str]) -> list[Notification]:
        """The notifications with these ids whose types their users want (any users: for the push, the mail)."""
        if not notification_ids:
            return []
        names = {f"i{i}": value for i, value in enumerate(notification_ids)}
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT n.*, r.read_at FROM {tx.t('notifications')} n LEFT JOIN {tx.t('notification_reads')} r "
                f"ON r.user_id = n.user_id AND r.notification_id = n.id WHERE n.id IN "
                f"({', '.join(':' + name for name in names)}) ORDER BY n.created_at, n.id",
                names,
            )
            prefs = {user: user_preferences(tx, user)["preferences"] for user in {str(r["user_id"]) for r in rows}}
            wanted = [row for row in rows if wants(prefs[str(row["user_id"])], str(row["type"]))]
            return self._shown(tx, wanted)

    def pending(self, limit: int) -> list[PendingNotification]:
        """Up to ``limit`` notifications to e-mail, neither e-mailed nor dropped yet, oldest first.

        Only those of users with an e-mail address, created since they set it: a user who never gave one has
        nothing pending (nothing is recorded for them), and giving one later mails no history.
        """
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT n.*, NULL AS read_at FROM {tx.t('notifications')} n "
                f"JOIN {tx.t('notification_preferences')} p ON p.user_id = n.user_id "
                f"LEFT JOIN {tx.t('notification_emails')} e ON e.notification_id = n.id "
                "WHERE e.notification_id IS NULL AND p.email <> '' AND n.created_at >= p.email_since "
                f"ORDER BY n.created_at, n.id LIMIT {int(limit)}"
            )
            shown = self._shown(tx, rows)
        return [
            PendingNotification(id=n.id, user_id=n.user_id, type=n.type, created_at=_moment(n.created_at), data=n.data)
            for n in shown
        ]

    def _shown(self, tx: ReadModelTx, rows: list[dict[str, Any]]) -> list[Notification]:
        names = _agent_names(tx, {str(row["graph_id"]) for row in rows if row["graph_id"]})
        shown = []
        for row in rows:
            data = dict(json_value(row["data"]) or {})
            graph_id = row["graph_id"]
            if graph_id and "agent_name" not in data:
                versions = names.get(str(graph_id), {})
                version = row["graph_version"]
                name = versions.get(int(version)) if version is not None else None
                data["agent_name"] = name if name is not None else (versions[max(versions)] if versions else "")
            if "block_id" in data and "block_name" not in data:
                block = self._lookup(str(data["block_id"]))
                data["block_name"] = block.name() if block is not None else ""
            shown.append(
                Notification(
                    id=str(row["id"]),
                    user_id=str(row["user_id"]),
                    type=str(row["type"]),
                    created_at=iso(row["created_at"]) or "",
                    read=row["read_at"] is not None,
                    read_at=iso(row["read_at"]),
                    data=data,
                )
            )
        return shown


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _turned_off(tx: ReadModelTx, user_id: str) -> list[str]:
    return sorted(kind for kind, on in user_preferences(tx, user_id)["preferences"].items() if not on)


def _scope(user_id: str, off: list[str]) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {"user_id": user_id}
    where = "n.user_id = :user_id"
    if off:
        params.update({f"off{i}": kind for i, kind in enumerate(off)})
        where += f" AND n.type NOT IN ({', '.join(f':off{i}' for i in range(len(off)))})"
    return where, params


def _agent_names(tx: ReadModelTx, graph_ids: set[str]) -> dict[str, dict[int, str]]:
    if not graph_ids:
        return {}
    names = {f"g{i}": value for i, value in enumerate(sorted(graph_ids))}
    rows = tx.fetchall(
        f"SELECT graph_id, version, name FROM {tx.t('notification_agents')} WHERE graph_id IN "
        f"({', '.join(':' + name for name in names)})",
        names,
    )
    found: dict[str, dict[int, str]] = {}
    for row in rows:
        found.setdefault(str(row["graph_id"]), {})[int(row["version"])] = str(row["name"])
    return found
