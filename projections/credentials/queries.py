"""Credentials queries: AutoGPT's ``CredentialsMetaResponse`` from ``read.integration_credentials``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from domain.credentials import (
    CREDENTIALS_NOT_FOUND,
    PROVIDER_MISMATCH,
    CredentialsMeta,
    CredentialsNotFoundError,
    CredentialsType,
)
from projections.store import ReadSource, json_value

PROJECTION = "integration_credentials"
"""The projection these queries read (``projections.credentials.projection``)."""

MAX_CREDENTIALS_LISTED = 1000
"""A list answers at most this many credentials."""


class CredentialsMetaResponse(BaseModel):
    """Credentials as AutoGPT shows them: never a secret (``scopes`` and ``username`` for oauth2 only)."""

    id: str
    provider: str
    type: CredentialsType
    title: str | None
    scopes: list[str] | None
    username: str | None
    host: str | None


def credentials_meta_response(credentials_id: str, meta: CredentialsMeta) -> CredentialsMetaResponse:
    """The answer of a command, from what it returned."""
    oauth2 = meta.type == CredentialsType.OAUTH2
    return CredentialsMetaResponse(
        id=credentials_id,
        provider=meta.provider,
        type=meta.type,
        title=meta.title,
        scopes=list(meta.scopes) if oauth2 else None,
        username=meta.username if oauth2 else None,
        host=meta.host,
    )


def _response(row: dict[str, Any]) -> CredentialsMetaResponse:
    scopes = json_value(row["scopes"])
    return CredentialsMetaResponse(
        id=str(row["credentials_id"]),
        provider=str(row["provider"]),
        type=CredentialsType(str(row["type"])),
        title=row["title"],
        scopes=list(scopes) if scopes is not None else None,
        username=row["username"],
        host=row["host"],
    )


class CredentialsQueries:
    """Reads of ``read.integration_credentials``, always scoped to one user."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    def list_credentials(self, user_id: str, provider: str | None = None) -> list[CredentialsMetaResponse]:
        """The user's credentials (of ``provider`` when given), oldest first."""
        where, params = "user_id = :user_id", {"user_id": user_id}
        if provider is not None:
            where, params = where + " AND provider = :provider", {**params, "provider": provider}
        with self._store.transaction() as tx:
            rows = tx.fetchall(
                f"SELECT * FROM {tx.t('integration_credentials')} WHERE {where} "
                f"ORDER BY created_at, credentials_id LIMIT {MAX_CREDENTIALS_LISTED}",
                params,
            )
        return [_response(row) for row in rows]

    def get_credentials(self, user_id: str, provider: str, credentials_id: str) -> CredentialsMetaResponse:
        """One of the user's credentials; ``CredentialsNotFoundError`` if unknown, another's, or another provider's."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT * FROM {tx.t('integration_credentials')} "
                "WHERE credentials_id = :credentials_id AND user_id = :user_id",
                {"credentials_id": credentials_id, "user_id": user_id},
            )
        if row is None:
            raise CredentialsNotFoundError(CREDENTIALS_NOT_FOUND)
        if row["provider"] != provider:
            raise CredentialsNotFoundError(PROVIDER_MISMATCH)
        return _response(row)
