"""Events of several contexts -> per-user notifications (AutoGPT's ``NotificationType`` and data fields).

- AGENT_RUN: a (top-level) run COMPLETED or FAILED: ``agent_name, credits_used, execution_time, node_count,
  graph_id, outputs`` (plus ``execution_id`` and ``status``). A stopped run (TERMINATED) is the user's own doing:
  no notification. A sub-agent's run is part of its parent's: none either.
- BLOCK_EXECUTION_FAILED: a node execution failed: ``block_name, block_id, error_message, graph_id, node_id,
  execution_id``.
- LOW_BALANCE: a charge took the balance from 500 or more to below 500: ``current_balance, billing_page_link``.
- ZERO_BALANCE: a run stopped for want of credits (``CreditLedger.ZeroBalanceReached``): ``agent_name,
  current_balance, billing_page_link, shortfall``.
- AGENT_APPROVED / AGENT_REJECTED: a store submission was reviewed (the store context's ``VersionReviewed``).

``agent_name`` and ``block_name`` are added when a notification is read (``queries``): the graph's name lives
in another context's log. Every notification is stored whatever the user's preferences; preferences are
applied when notifications are listed, pushed and e-mailed (so turning a type back on shows its notifications
again, and the table does not depend on the order of two contexts' logs).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from domain.credit_ledger import CreditLedger
from domain.event_types import context_event_types
from domain.execution import GraphExecution
from domain.graph import Graph
from domain.notification_preferences import NotificationPreferences, NotificationType
from domain.store_listing import StoreListing
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.notifications.tables import (
    NOTIFICATION_AGENTS,
    NOTIFICATION_EMAILS,
    NOTIFICATION_PREFERENCES,
    NOTIFICATION_READS,
    NOTIFICATION_RUNS,
    NOTIFICATIONS,
)
from projections.store import ReadModelTx, json_value

LOW_BALANCE_THRESHOLD = 500
"""AutoGPT's ``low_balance_threshold``: LOW_BALANCE when a charge takes the balance below it."""

BILLING_PAGE_LINK = "/profile/credits"
"""AutoGPT's billing page, relative to the frontend."""

NAMESPACE = uuid.UUID("3d0c7a9e-51f2-4b8e-9c61-0a4f7e2b6d13")
"""Namespace of notification ids (never change it)."""


def notification_id(notification_type: str, event_id: str) -> str:
    """The id of the notification of type ``notification_type`` that the event ``event_id`` gives (stable)."""
    return str(uuid.uuid5(NAMESPACE, f"{notification_type}:{event_id}"))


PREFETCH_CHUNK = 500
"""Run rows read per query when a batch starts."""


class _Work:
    """One batch: run rows held in memory (read in one go, written once); notifications to insert."""

    def __init__(self, tx: ReadModelTx) -> None:
        self.tx = tx
        self.runs: dict[str, dict[str, Any] | None] = {}
        """Run rows by execution id (None: no row)."""
        self.ended: set[str] = set()
        self.notifications: list[dict[str, Any]] = []

    def prefetch(self, batch: list[EventEnvelope]) -> None:
        """Read the rows of every run the batch's execution events touch, a chunk of ids per query."""
        ids = sorted({e.aggregate_id for e in batch if e.context == "executions" and e.type in _RUN_STATE.names})
        for start in range(0, len(ids), PREFETCH_CHUNK):
            chunk = ids[start : start + PREFETCH_CHUNK]
            names = {f"r{i}": value for i, value in enumerate(chunk)}
            rows = self.tx.fetchall(
                f"SELECT * FROM {self.tx.t('notification_runs')} WHERE execution_id IN "
                f"({', '.join(':' + name for name in names)})",
                names,
            )
            self.runs.update(dict.fromkeys(chunk))
            for row in rows:
                row["nodes"] = json_value(row["nodes"]) or {}
                row["outputs"] = json_value(row["outputs"]) or []
                row["sub_run"] = bool(row["sub_run"])
                self.runs[str(row["execution_id"])] = row

    def run(self, execution_id: str) -> dict[str, Any] | None:
        return None if execution_id in self.ended else self.runs.get(execution_id)

    def end(self, execution_id: str) -> None:
        self.ended.add(execution_id)

    def notify(
        self,
        event: EventEnvelope,
        notification_type: NotificationType,
        user_id: str,
        data: dict[str, Any],
        graph_id: str | None = None,
        graph_version: int | None = None,
    ) -> None:
        self.notifications.append(
            {
                "id": notification_id(notification_type, event.id),
                "user_id": user_id,
                "type": str(notification_type),
                "data": data,
                "graph_id": graph_id,
                "graph_version": graph_version,
                "created_at": event.timestamp,
                "event_id": event.id,
                "context": event.context,
                "position": event.position,
            }
        )

    def write(self) -> None:
        done = sorted(self.ended)
        if done:
            self.tx.execute(
                f"DELETE FROM {self.tx.t('notification_runs')} WHERE execution_id IN "
                f"({', '.join(f':r{i}' for i in range(len(done)))})",
                {f"r{i}": key for i, key in enumerate(done)},
            )
        rows = [row for key, row in self.runs.items() if row is not None and key not in self.ended]
        self.tx.upsert(NOTIFICATION_RUNS, rows)
        self.tx.upsert(NOTIFICATIONS, self.notifications, replace=False)


Handler = Callable[[EventEnvelope, _Work], None]


# -- graphs ------------------------------------------------------------------------------------------------


def _agent(tx: ReadModelTx, graph_id: str, version: int, content: dict[str, Any]) -> None:
    tx.upsert(NOTIFICATION_AGENTS, [{"graph_id": graph_id, "version": version, "name": str(content.get("name", ""))}])


def _graph_created(event: EventEnvelope, work: _Work) -> None:
    _agent(work.tx, event.aggregate_id, 1, event.data.get("content") or {})


def _graph_version_created(event: EventEnvelope, work: _Work) -> None:
    _agent(work.tx, event.aggregate_id, int(event.data["version"]), event.data.get("content") or {})


# -- runs --------------------------------------------------------------------------------------------------


def _run_requested(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    work.runs[event.aggregate_id] = {
        "execution_id": event.aggregate_id,
        "user_id": str(data["user_id"]),
        "graph_id": str(data["graph_id"]),
        "graph_version": int(data["graph_version"]),
        "sub_run": bool(data.get("parent_execution_id")),
        "nodes": {},
        "outputs": [],
        "last_position": event.position,
    }


def _node_seen(event: EventEnvelope, work: _Work) -> None:
    run = work.run(event.aggregate_id)
    if run is not None:
        run["nodes"][str(event.data["node_exec_id"])] = [str(event.data["node_id"]), str(event.data["block_id"])]
        run["last_position"] = event.position


def _output(event: EventEnvelope, work: _Work) -> None:
    name = event.data.get("graph_output_name")
    run = work.run(event.aggregate_id)
    if run is None or name is None:
        return
    outputs: list[dict[str, Any]] = run["outputs"]
    entry = next((o for o in outputs if o["name"] == name), None)
    if entry is None:
        entry = {"name": name, "output": []}
        outputs.append(entry)
    entry["output"].append(event.data.get("value"))
    run["last_position"] = event.position


def _node_failed(event: EventEnvelope, work: _Work) -> None:
    run = work.run(event.aggregate_id)
    if run is None:
        return
    node_exec_id = str(event.data["node_exec_id"])
    node_id, block_id = run["nodes"].get(node_exec_id, ["", ""])
    data = {
        "block_id": block_id,
        "error_message": str(event.data.get("error", "")),
        "graph_id": run["graph_id"],
        "node_id": node_id,
        "execution_id": event.aggregate_id,
    }
    work.notify(event, NotificationType.BLOCK_EXECUTION_FAILED, run["user_id"], data, run["graph_id"])


def _run_ended(event: EventEnvelope, work: _Work) -> None:
    run = work.run(event.aggregate_id)
    if run is None:
        return
    work.end(event.aggregate_id)  # the run is over: its row goes
    if run["sub_run"] or event.type not in _NOTIFIED_ENDINGS.names:
        return
    stats = dict(event.data.get("stats") or {})
    status = "COMPLETED" if event.type in _COMPLETED.names else "FAILED"
    data = {
        "credits_used": int(stats.get("cost", 0) or 0),
        "execution_time": float(stats.get("duration", 0.0) or 0.0),
        "node_count": int(stats.get("node_exec_count", len(run["nodes"])) or 0),
        "graph_id": run["graph_id"],
        "outputs": run["outputs"],
        "execution_id": event.aggregate_id,
        "status": status,
    }
    work.notify(event, NotificationType.AGENT_RUN, run["user_id"], data, run["graph_id"], run["graph_version"])


_NOTIFIED_ENDINGS = EventHandlers[bool]({GraphExecution.Completed: True, GraphExecution.Failed: True})
_RUN_STATE = EventHandlers[bool](
    dict.fromkeys(
        (
            GraphExecution.NodeInputReceived,
            GraphExecution.NodeExecutionQueued,
            GraphExecution.NodeOutputProduced,
            GraphExecution.NodeExecutionFailed,
            GraphExecution.Completed,
            GraphExecution.Failed,
            GraphExecution.Terminated,
        ),
        True,
    )
)
"""Execution events that read a run's row."""
_COMPLETED = EventHandlers[bool]({GraphExecution.Completed: True})


# -- credits -----------------------------------------------------------------------------------------------


def _charged(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    after = int(data["running_balance"])
    before = after - int(data["amount"])
    if before >= LOW_BALANCE_THRESHOLD > after:
        payload = {"current_balance": after, "billing_page_link": BILLING_PAGE_LINK}
        work.notify(event, NotificationType.LOW_BALANCE, str(data["user_id"]), payload)


def _zero_balance(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    balance, cost = int(data["balance"]), int(data["cost"])
    payload = {
        "current_balance": balance,
        "billing_page_link": BILLING_PAGE_LINK,
        "shortfall": abs(cost) - balance,
        "graph_id": str(data["graph_id"]),
        "execution_id": str(data["graph_exec_id"]),
    }
    work.notify(event, NotificationType.ZERO_BALANCE, str(data["user_id"]), payload, str(data["graph_id"]))


# -- the user's own -----------------------------------------------------------------------------------------


def _preferences_set(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    email = str(data["email"])
    before = work.tx.fetchone(
        f"SELECT email, email_since FROM {work.tx.t('notification_preferences')} WHERE user_id = :user_id",
        {"user_id": str(data["user_id"])},
    )
    if not email:
        since = None
    elif before is not None and before["email"] == email:
        since = before["email_since"]
    else:
        since = data["updated_at"]  # a new address: e-mails from now on, never the history
    row = {
        "user_id": str(data["user_id"]),
        "email": email,
        "preferences": dict(data["preferences"]),
        "daily_limit": int(data["daily_limit"]),
        "updated_at": data["updated_at"],
        "email_since": since,
    }
    work.tx.upsert(NOTIFICATION_PREFERENCES, [row])


def _marked_read(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    row = {"user_id": str(data["user_id"]), "notification_id": str(data["notification_id"]), "read_at": data["read_at"]}
    work.tx.upsert(NOTIFICATION_READS, [row], replace=False)


def _email_sent(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    rows = [
        {
            "notification_id": str(notification),
            "user_id": str(data["user_id"]),
            "status": "SENT",
            "mail_key": str(data["mail_key"]),
            "at": data["sent_at"],
            "day": str(data["sent_at"])[:10],
        }
        for notification in data["notification_ids"]
    ]
    work.tx.upsert(NOTIFICATION_EMAILS, rows, replace=False)


def _emails_dropped(event: EventEnvelope, work: _Work) -> None:
    data = event.data
    rows = [
        {
            "notification_id": str(notification),
            "user_id": str(data["user_id"]),
            "status": "DROPPED",
            "mail_key": None,
            "at": event.timestamp,
            "day": None,
        }
        for notification in data["notification_ids"]
    ]
    work.tx.upsert(NOTIFICATION_EMAILS, rows, replace=False)


# -- the store ----------------------------------------------------------------------------------------------


def store_version_reviewed(event: EventEnvelope, work: _Work) -> None:
    """AGENT_APPROVED / AGENT_REJECTED for the listing's owner (``StoreListing.VersionReviewed``)."""
    data = event.data
    approved = bool(data["approved"])
    payload = {
        "agent_name": str(data.get("agent_name", "")),
        "graph_id": str(data["graph_id"]),
        "graph_version": int(data["graph_version"]),
        "store_listing_version_id": str(data["store_listing_version_id"]),
        "reviewer_id": str(data.get("reviewer_id", "")),
        "review_comments": data.get("review_comments"),
    }
    kind = NotificationType.AGENT_APPROVED if approved else NotificationType.AGENT_REJECTED
    work.notify(event, kind, str(data["owner_user_id"]), payload)


_HANDLERS = EventHandlers[Handler](
    {
        Graph.Created: _graph_created,
        Graph.VersionCreated: _graph_version_created,
        GraphExecution.Requested: _run_requested,
        GraphExecution.NodeInputReceived: _node_seen,
        GraphExecution.NodeExecutionQueued: _node_seen,
        GraphExecution.NodeOutputProduced: _output,
        GraphExecution.NodeExecutionFailed: _node_failed,
        GraphExecution.Completed: _run_ended,
        GraphExecution.Failed: _run_ended,
        GraphExecution.Terminated: _run_ended,
        CreditLedger.Charged: _charged,
        CreditLedger.ZeroBalanceReached: _zero_balance,
        NotificationPreferences.PreferencesSet: _preferences_set,
        NotificationPreferences.MarkedRead: _marked_read,
        NotificationPreferences.EmailSent: _email_sent,
        NotificationPreferences.EmailsDropped: _emails_dropped,
        StoreListing.VersionReviewed: store_version_reviewed,
    }
)

_NOTIFYING: dict[str, tuple[NotificationType, ...]] = {
    **dict.fromkeys(_NOTIFIED_ENDINGS.names, (NotificationType.AGENT_RUN,)),
    **dict.fromkeys(
        EventHandlers[bool]({GraphExecution.NodeExecutionFailed: True}).names,
        (NotificationType.BLOCK_EXECUTION_FAILED,),
    ),
    **dict.fromkeys(EventHandlers[bool]({CreditLedger.Charged: True}).names, (NotificationType.LOW_BALANCE,)),
    **dict.fromkeys(
        EventHandlers[bool]({CreditLedger.ZeroBalanceReached: True}).names, (NotificationType.ZERO_BALANCE,)
    ),
    **dict.fromkeys(
        EventHandlers[bool]({StoreListing.VersionReviewed: True}).names,
        (NotificationType.AGENT_APPROVED, NotificationType.AGENT_REJECTED),
    ),
}
"""Event type name -> the notification types an event of it may give."""


def notification_ids_of(events: list[EventEnvelope]) -> list[str]:
    """The ids of the notifications ``events`` may have given (those that exist are in the read model)."""
    return [notification_id(kind, event.id) for event in events for kind in _NOTIFYING.get(event.type, ())]


class NotificationsProjection(Projection):
    """Runs, credits, graphs, store reviews and the users' own actions -> notifications."""

    name = "notifications"
    contexts = frozenset({"graphs", "executions", "accounts", "store"})
    tables = (
        NOTIFICATIONS,
        NOTIFICATION_RUNS,
        NOTIFICATION_AGENTS,
        NOTIFICATION_PREFERENCES,
        NOTIFICATION_READS,
        NOTIFICATION_EMAILS,
    )
    handles = _HANDLERS.types
    # a graph's deletion or active version changes no name; a run's other events and the other aggregates
    # of the accounts context say nothing a user is told; nor do the store's events but its reviews
    ignores = frozenset(t for context in contexts for t in context_event_types(context)) - _HANDLERS.types

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        work = _Work(tx)
        work.prefetch(batch)
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(event, work)
        work.write()
