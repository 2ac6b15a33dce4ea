"""Integration credentials: a user's keys, tokens and passwords for the services blocks call.

``IntegrationCredentials`` is an aggregate of the accounts context, one per
stored set of credentials, in AutoGPT's four types: ``api_key``, ``oauth2``
(access and refresh tokens, their expiry, scopes, username),
``user_password`` and ``host_scoped`` (headers sent to one host). Its
events hold the metadata in clear (provider, title, scopes, username, host,
expiry times) and every secret field in ``ciphertext`` only: sealed under the
owner's data key by ``application.credentials`` before the aggregate sees
it. The domain never holds a secret in clear, except in
``ResolvedCredentials``: what a block receives at run time, never recorded.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.blocks.base import RunContext
from domain.graph_validation import is_credentials_field
from domain.not_found import NotFoundError


class CredentialsType(enum.StrEnum):
    """AutoGPT's credentials types."""

    API_KEY = "api_key"
    OAUTH2 = "oauth2"
    USER_PASSWORD = "user_password"
    HOST_SCOPED = "host_scoped"


SECRET_FIELDS: dict[CredentialsType, tuple[str, ...]] = {
    CredentialsType.API_KEY: ("api_key",),
    CredentialsType.OAUTH2: ("access_token", "refresh_token"),
    CredentialsType.USER_PASSWORD: ("password",),
    CredentialsType.HOST_SCOPED: ("headers",),
}
"""The fields of each type that are secret: sealed together into the events' ``ciphertext``."""


CREDENTIALS_NOT_FOUND = "Credentials not found"
PROVIDER_MISMATCH = "Credentials do not match the specified provider"
"""AutoGPT's two 404 texts of the credentials routes."""


class CredentialsNotFoundError(NotFoundError):
    """No such credentials for this user: unknown, deleted, someone else's, or of another provider."""


class CredentialsUnavailableError(Exception):
    """A run needs credentials that are gone or can no longer be decrypted (deleted, or the key was shredded)."""


def unavailable_message(credentials_id: str, user_id: str) -> str:
    """AutoGPT's wording when the executor cannot acquire a node's credentials."""
    return f"Credentials #{credentials_id} for user #{user_id} not found"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class IntegrationCredentials(Aggregate):
    """One set of credentials of one user for one provider."""

    class Created(Aggregate.Created):
        """A user stored credentials (secrets sealed in ``ciphertext``, never in clear)."""

        user_id: str
        provider: str
        type: str
        title: str | None
        username: str | None
        scopes: list[str]
        host: str | None
        expires_at: int | None
        access_token_expires_at: int | None
        refresh_token_expires_at: int | None
        ciphertext: str
        created_at: str

    @event(Created)
    def __init__(
        self,
        user_id: str,
        provider: str,
        type: str,
        title: str | None,
        username: str | None,
        scopes: list[str],
        host: str | None,
        expires_at: int | None,
        access_token_expires_at: int | None,
        refresh_token_expires_at: int | None,
        ciphertext: str,
        created_at: str,
    ) -> None:
        self.user_id = user_id
        self.provider = provider
        self.type = CredentialsType(type)
        self.title = title
        self.username = username
        self.scopes = list(scopes)
        self.host = host
        self.expires_at = expires_at
        self.access_token_expires_at = access_token_expires_at
        self.refresh_token_expires_at = refresh_token_expires_at
        self.ciphertext = ciphertext
        self.created_at = created_at
        self.deleted = False

    @staticmethod
    def new_id() -> uuid.UUID:
        """The id of credentials about to be stored (the ciphertext is bound to it, so it comes first)."""
        return uuid.uuid4()

    @classmethod
    def store(cls, credentials_id: uuid.UUID, meta: CredentialsMeta, ciphertext: str) -> IntegrationCredentials:
        """New credentials of ``meta.user_id`` whose secrets are ``ciphertext``."""
        return cls._create(
            cls.Created,
            id=credentials_id,
            user_id=meta.user_id,
            provider=meta.provider,
            type=str(meta.type),
            title=meta.title,
            username=meta.username,
            scopes=list(meta.scopes),
            host=meta.host,
            expires_at=meta.expires_at,
            access_token_expires_at=meta.access_token_expires_at,
            refresh_token_expires_at=meta.refresh_token_expires_at,
            ciphertext=ciphertext,
            created_at=_now(),
        )

    def delete(self) -> None:
        """Delete the credentials (a second delete changes nothing)."""
        if not self.deleted:
            self._deleted()

    class Deleted(Aggregate.Event):
        """The owner deleted the credentials."""

    @event(Deleted)
    def _deleted(self) -> None:
        self.deleted = True

    @property
    def meta(self) -> CredentialsMeta:
        """What may be shown of the credentials (no secret)."""
        return CredentialsMeta(
            user_id=self.user_id,
            provider=self.provider,
            type=self.type,
            title=self.title,
            username=self.username,
            scopes=list(self.scopes),
            host=self.host,
            expires_at=self.expires_at,
            access_token_expires_at=self.access_token_expires_at,
            refresh_token_expires_at=self.refresh_token_expires_at,
        )


@dataclass(frozen=True)
class CredentialsMeta:
    """The non-secret part of credentials."""

    user_id: str
    provider: str
    type: CredentialsType
    title: str | None = None
    username: str | None = None
    scopes: list[str] = field(default_factory=list)
    host: str | None = None
    expires_at: int | None = None
    access_token_expires_at: int | None = None
    refresh_token_expires_at: int | None = None


@dataclass(frozen=True)
class ResolvedCredentials:
    """Credentials with their secrets in clear: handed to one block run, never recorded, never shown.

    ``secrets`` holds the type's secret fields (``SECRET_FIELDS``); its repr is hidden so a log line or
    a traceback naming the object shows no secret.
    """

    id: str
    meta: CredentialsMeta
    secrets: dict[str, Any] = field(repr=False)

    @property
    def bearer_token(self) -> str | None:
        """The API key, or the OAuth2 access token: what goes after ``Bearer``."""
        value = self.secrets.get("api_key") or self.secrets.get("access_token")
        return str(value) if value else None

    @property
    def headers(self) -> dict[str, str]:
        """The headers of ``host_scoped`` credentials (empty for the other types)."""
        headers = self.secrets.get("headers") or {}
        return {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}


RUN_CREDENTIALS = "credentials"
"""Key in ``RunContext.extra``: credentials field name -> ``ResolvedCredentials`` for this node run only."""


def run_credentials(context: RunContext, field_name: str = "credentials") -> ResolvedCredentials | None:
    """The credentials the executor resolved for this node run's ``field_name`` input, if any."""
    resolved = context.extra.get(RUN_CREDENTIALS) or {}
    found = resolved.get(field_name) if isinstance(resolved, dict) else None
    return found if isinstance(found, ResolvedCredentials) else None


def credentials_references(field_names: list[str], data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The credentials references among a node's inputs: field name -> ``{id, provider, type, title}``."""
    return {
        name: value
        for name in field_names
        if is_credentials_field(name)
        and isinstance(value := data.get(name), dict)
        and isinstance(value.get("id"), str)
        and value["id"]
    }
