"""Credentials events -> ``read.integration_credentials`` (the ciphertext the events carry is left out).

A shredded data key (``UserDataKey.Shredded``) drops every row of its user:
those credentials can never be opened again, so they are not listed.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.credentials import CredentialsType, IntegrationCredentials
from domain.data_key import UserDataKey
from domain.event_types import EventType, events_of_other_aggregates
from projections.base import Projection
from projections.credentials.tables import INTEGRATION_CREDENTIALS
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    oauth2 = data["type"] == CredentialsType.OAUTH2.value  # AutoGPT shows scopes and username for oauth2 only
    tx.execute(
        f"INSERT INTO {tx.t('integration_credentials')} (credentials_id, user_id, provider, type, title, scopes, "
        "username, host, created_at, last_position) VALUES (:credentials_id, :user_id, :provider, :type, :title, "
        ":scopes, :username, :host, :created_at, :position) ON CONFLICT (credentials_id) DO NOTHING",
        {
            "credentials_id": event.aggregate_id,
            "user_id": data["user_id"],
            "provider": data["provider"],
            "type": data["type"],
            "title": data.get("title"),
            "scopes": tx.json(list(data.get("scopes") or [])) if oauth2 else None,
            "username": data.get("username") if oauth2 else None,
            "host": data.get("host"),
            "created_at": data.get("created_at") or event.timestamp,
            "position": event.position,
        },
    )


def _deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    tx.execute(
        f"DELETE FROM {tx.t('integration_credentials')} WHERE credentials_id = :credentials_id",
        {"credentials_id": event.aggregate_id},
    )


def _shredded(tx: ReadModelTx, event: EventEnvelope) -> None:
    # rows of credentials stored after the shred (under a new data key) come later in the log: untouched
    tx.execute(
        f"DELETE FROM {tx.t('integration_credentials')} WHERE user_id = :user_id AND last_position < :position",
        {"user_id": event.data["user_id"], "position": event.position},
    )


_HANDLERS = EventHandlers[Handler](
    {
        IntegrationCredentials.Created: _created,
        IntegrationCredentials.Deleted: _deleted,
        UserDataKey.Shredded: _shredded,
    }
)


_UNSHOWN_KEY_FACTS: frozenset[EventType] = frozenset({UserDataKey.Issued, UserDataKey.Reissued, UserDataKey.Rewrapped})
"""Data key facts that change no listing (only a shred does)."""


class CredentialsProjection(Projection):
    """Integration credentials (and shredded data keys) -> ``integration_credentials``."""

    name = "integration_credentials"
    contexts = frozenset({"accounts"})
    tables = (INTEGRATION_CREDENTIALS,)
    handles = _HANDLERS.types
    ignores = _UNSHOWN_KEY_FACTS | events_of_other_aggregates("accounts", IntegrationCredentials, UserDataKey)

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
