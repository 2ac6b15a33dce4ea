"""API key events -> ``read.api_keys`` (the salt and hash the events carry are left out)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.api_key import ApiKey, APIKeyStatus
from domain.event_types import events_of_other_aggregates
from projections.api_keys.tables import API_KEYS
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"INSERT INTO {tx.t('api_keys')} (key_id, user_id, name, description, head, tail, status, permissions, "
        "created_at, last_used_at, revoked_at, last_position) VALUES (:key_id, :user_id, :name, :description, "
        ":head, :tail, :status, :permissions, :created_at, NULL, NULL, :position) ON CONFLICT (key_id) DO NOTHING",
        {
            "key_id": event.aggregate_id,
            "user_id": data["user_id"],
            "name": data["name"],
            "description": data.get("description"),
            "head": data["head"],
            "tail": data["tail"],
            "status": APIKeyStatus.ACTIVE.value,
            "permissions": tx.json(list(data.get("permissions") or [])),
            "created_at": data.get("created_at") or event.timestamp,
            "position": event.position,
        },
    )


def _update(tx: ReadModelTx, event: EventEnvelope, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    # last_position guards against applying one event twice (a redelivery) out of order
    tx.execute(
        f"UPDATE {tx.t('api_keys')} SET {sets}, last_position = :position "
        "WHERE key_id = :key_id AND last_position < :position",
        {**changes, "position": event.position, "key_id": event.aggregate_id},
    )


def _revoked(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update(tx, event, {"status": APIKeyStatus.REVOKED.value, "revoked_at": event.data["revoked_at"]})


def _suspended(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update(tx, event, {"status": APIKeyStatus.SUSPENDED.value})


def _permissions_changed(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update(tx, event, {"permissions": tx.json(list(event.data["permissions"]))})


def _used(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update(tx, event, {"last_used_at": event.data["used_at"]})


_HANDLERS = EventHandlers[Handler](
    {
        ApiKey.Created: _created,
        ApiKey.Revoked: _revoked,
        ApiKey.Suspended: _suspended,
        ApiKey.PermissionsChanged: _permissions_changed,
        ApiKey.Used: _used,
    }
)


class ApiKeysProjection(Projection):
    """API key aggregates -> ``api_keys``."""

    name = "api_keys"
    contexts = frozenset({"accounts"})
    tables = (API_KEYS,)
    handles = _HANDLERS.types
    ignores = events_of_other_aggregates("accounts", ApiKey)  # credentials, data keys: other read models

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
