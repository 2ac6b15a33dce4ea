"""API keys: a user's keys for the external API, each with its permissions and status.

``ApiKey`` is the event-sourced aggregate of the accounts context. Its events
hold the key's head, tail, salt and scrypt hash (``domain.api_key_secret``),
never the key. ``ACTIVE`` keys work; ``SUSPENDED`` and ``REVOKED`` ones do
not. Revoking is final: a revoked key can be neither suspended nor given
permissions again (AutoGPT has no way back from REVOKED, and none from
SUSPENDED either).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

from domain.api_key_secret import StoredSecret


class APIKeyPermission(enum.StrEnum):
    """What a key may do (AutoGPT's ``APIKeyPermission``)."""

    IDENTITY = "IDENTITY"
    EXECUTE_GRAPH = "EXECUTE_GRAPH"
    READ_GRAPH = "READ_GRAPH"
    WRITE_GRAPH = "WRITE_GRAPH"
    EXECUTE_BLOCK = "EXECUTE_BLOCK"
    READ_BLOCK = "READ_BLOCK"
    READ_STORE = "READ_STORE"
    WRITE_LIBRARY = "WRITE_LIBRARY"
    USE_TOOLS = "USE_TOOLS"
    MANAGE_INTEGRATIONS = "MANAGE_INTEGRATIONS"
    READ_INTEGRATIONS = "READ_INTEGRATIONS"
    DELETE_INTEGRATIONS = "DELETE_INTEGRATIONS"


class APIKeyStatus(enum.StrEnum):
    """A key's state (AutoGPT's ``APIKeyStatus``)."""

    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    SUSPENDED = "SUSPENDED"


class ApiKeyRevokedError(Exception):
    """The key was revoked: it accepts no further change."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ApiKey(Aggregate):
    """One API key of one user."""

    class Created(Aggregate.Created):
        """A user created a key (its raw form was shown once and is not recorded)."""

        user_id: str
        name: str
        description: str | None
        permissions: list[str]
        head: str
        tail: str
        salt: str
        hash: str
        created_at: str

    @event(Created)
    def __init__(
        self,
        user_id: str,
        name: str,
        description: str | None,
        permissions: list[str],
        head: str,
        tail: str,
        salt: str,
        hash: str,
        created_at: str,
    ) -> None:
        self.user_id = user_id
        self.name = name
        self.description = description
        self.permissions = list(permissions)
        self.head = head
        self.tail = tail
        self.salt = salt
        self.hash = hash
        self.created_at = created_at
        self.status = APIKeyStatus.ACTIVE
        self.last_used_at: str | None = None
        self.revoked_at: str | None = None

    @classmethod
    def create(
        cls,
        user_id: str,
        name: str,
        description: str | None,
        permissions: list[APIKeyPermission],
        secret: StoredSecret,
    ) -> ApiKey:
        """A new active key of ``user_id`` with ``permissions``."""
        return cls._create(
            cls.Created,
            id=uuid.uuid4(),
            user_id=user_id,
            name=name,
            description=description,
            permissions=[str(p) for p in dict.fromkeys(permissions)],
            head=secret.head,
            tail=secret.tail,
            salt=secret.salt,
            hash=secret.hash,
            created_at=_now(),
        )

    @property
    def is_active(self) -> bool:
        """True when the key may be used."""
        return self.status == APIKeyStatus.ACTIVE

    def revoke(self) -> None:
        """Stop the key for good (a second revoke changes nothing)."""
        if self.status != APIKeyStatus.REVOKED:
            self._revoked(revoked_at=_now())

    class Revoked(Aggregate.Event):
        """The key was revoked."""

        revoked_at: str

    @event(Revoked)
    def _revoked(self, revoked_at: str) -> None:
        self.status = APIKeyStatus.REVOKED
        self.revoked_at = revoked_at

    def suspend(self) -> None:
        """Stop the key from working (AutoGPT has no unsuspend; neither have we)."""
        self._ensure_not_revoked()
        if self.status != APIKeyStatus.SUSPENDED:
            self._suspended()

    class Suspended(Aggregate.Event):
        """The key was suspended."""

    @event(Suspended)
    def _suspended(self) -> None:
        self.status = APIKeyStatus.SUSPENDED

    def set_permissions(self, permissions: list[APIKeyPermission]) -> None:
        """Replace the key's permissions."""
        self._ensure_not_revoked()
        wanted = [str(p) for p in dict.fromkeys(permissions)]
        if wanted != self.permissions:
            self._permissions_changed(permissions=wanted)

    class PermissionsChanged(Aggregate.Event):
        """The key's permissions were replaced."""

        permissions: list[str]

    @event(PermissionsChanged)
    def _permissions_changed(self, permissions: list[str]) -> None:
        self.permissions = list(permissions)

    def record_use(self, used_at: str) -> None:
        """Note when the key was last used (batched by the API: see ``application.api_key_usage``)."""
        if self.last_used_at is None or used_at > self.last_used_at:
            self._used(used_at=used_at)

    class Used(Aggregate.Event):
        """The key was used (the latest use of a batch)."""

        used_at: str

    @event(Used)
    def _used(self, used_at: str) -> None:
        self.last_used_at = used_at

    def _ensure_not_revoked(self) -> None:
        if self.status == APIKeyStatus.REVOKED:
            raise ApiKeyRevokedError(f"API key {self.id} is revoked")
