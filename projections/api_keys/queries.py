"""API key queries: AutoGPT's ``APIKeyInfo`` from ``read.api_keys``, and the lookup by head."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from domain.not_found import ApiKeyNotFoundError
from projections.store import ReadSource, iso, json_value

PROJECTION = "api_keys"
"""The projection these queries read (``projections.api_keys.projection``)."""

MAX_KEYS_LISTED = 1000
"""A list answers at most this many keys (newest first)."""


class APIKeyInfo(BaseModel):
    """A key as AutoGPT shows it: ``prefix``/``postfix`` are its head and tail (the client masks the rest)."""

    id: str
    name: str
    prefix: str
    postfix: str
    status: str
    permissions: list[str]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    description: str | None
    user_id: str


def api_key_info(
    *,
    key_id: str,
    user_id: str,
    name: str,
    description: str | None,
    head: str,
    tail: str,
    status: str,
    permissions: list[str],
    created_at: Any,
    last_used_at: Any,
    revoked_at: Any,
) -> APIKeyInfo:
    """The one builder of ``APIKeyInfo``: queries use it on rows, command routes on what a command returned."""
    return APIKeyInfo(
        id=key_id,
        name=name,
        prefix=head,
        postfix=tail,
        status=status,
        permissions=permissions,
        created_at=iso(created_at) or "",
        last_used_at=iso(last_used_at),
        revoked_at=iso(revoked_at),
        description=description,
        user_id=user_id,
    )


def _info(row: dict[str, Any]) -> APIKeyInfo:
    return api_key_info(
        key_id=str(row["key_id"]),
        user_id=str(row["user_id"]),
        name=str(row["name"]),
        description=row["description"],
        head=str(row["head"]),
        tail=str(row["tail"]),
        status=str(row["status"]),
        permissions=list(json_value(row["permissions"]) or []),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


class ApiKeyQueries:
    """Reads of ``read.api_keys``, always scoped to one user (except the lookup by head)."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    def list_keys(self, user_id: str) -> list[APIKeyInfo]:
        """The user's keys, newest first, whatever their status (as AutoGPT lists them)."""
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('api_keys')} WHERE user_id = :user_id "
                f"ORDER BY created_at DESC, key_id LIMIT {MAX_KEYS_LISTED}",
                {"user_id": user_id},
            )
        return [_info(row) for row in rows]

    def get_key(self, user_id: str, key_id: str) -> APIKeyInfo:
        """One of the user's keys; ``ApiKeyNotFoundError`` for an unknown or someone else's."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('api_keys')} WHERE key_id = :key_id AND user_id = :user_id",
                {"key_id": key_id, "user_id": user_id},
            )
        if row is None:
            raise ApiKeyNotFoundError("API key not found")
        return _info(row)

    def ids_with_head(self, head: str) -> list[UUID]:
        """Ids of the keys, not revoked, whose head is ``head`` (the aggregate decides the rest)."""
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT key_id FROM {tx.t('api_keys')} WHERE head = :head AND status <> 'REVOKED' LIMIT 20",
                {"head": head},
            )
        return [UUID(str(row["key_id"])) for row in rows]
