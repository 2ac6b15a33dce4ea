"""The accounts context: users' API keys (credits come with the accounts issue).

One eventsourcing Application with its own events table (``accounts_events``).
Ownership is enforced here: another user's key reads as not found (404), as
graphs and runs do, rather than AutoGPT's 403, so no one learns which key ids
exist. Listing keys is the read side's job (``projections.api_keys.queries``);
the external API's authentication reads the aggregate itself (see
``authenticate``), so a key suspended or revoked a moment ago is refused at
once, whatever the read model's lag.

The repository keeps loaded keys in a cache that is fast-forwarded on every
read (one query for events newer than the cached version), so checking a key's
state per request costs one indexed select that usually returns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Recording

from application import command_metadata
from application.results import ApiKeyWritten, position_of
from domain.api_key import ApiKey, APIKeyPermission
from domain.api_key_secret import looks_like_key, matches, new_raw_key, stored_secret
from domain.credit_ledger import CreditLedger
from domain.not_found import ApiKeyNotFoundError

AGGREGATE_CACHE_SIZE = 10_000
"""Keys kept loaded per process (each a few hundred bytes)."""

LEDGER_SNAPSHOT_INTERVAL = 100
"""A credit ledger is snapshotted every this many events: loading one reads a snapshot and fewer events."""


class AccountsApplication(Application[UUID]):
    """Use cases of the accounts context (API keys)."""

    name = "accounts"
    snapshotting_intervals = {CreditLedger: LEDGER_SNAPSHOT_INTERVAL}  # credits: application.credits

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE), **(env or {})})

    # -- commands -------------------------------------------------------

    def create_api_key(
        self, user_id: str, name: str, description: str | None, permissions: list[APIKeyPermission]
    ) -> tuple[ApiKeyWritten, str]:
        """A new key; returns it as stored and its raw form (to show once; it is not kept)."""
        raw = new_raw_key()
        key = ApiKey.create(user_id, name, description, permissions, stored_secret(raw))
        return self._written(key, self.save(key)), raw

    def revoke_api_key(self, user_id: str, key_id: UUID) -> ApiKeyWritten:
        """Revoke one of the user's keys (final)."""
        key = self._owned(user_id, key_id)
        key.revoke()
        return self._written(key, self.save(key))

    def suspend_api_key(self, user_id: str, key_id: UUID) -> ApiKeyWritten:
        """Suspend one of the user's keys."""
        key = self._owned(user_id, key_id)
        key.suspend()
        return self._written(key, self.save(key))

    def update_api_key_permissions(
        self, user_id: str, key_id: UUID, permissions: list[APIKeyPermission]
    ) -> ApiKeyWritten:
        """Replace the permissions of one of the user's keys."""
        key = self._owned(user_id, key_id)
        key.set_permissions(permissions)
        return self._written(key, self.save(key))

    def record_api_key_uses(self, uses: Mapping[UUID, str]) -> None:
        """Record the latest use of each key (one event per key at most); gone keys are skipped.

        Each ``Used`` event names its key as the actor (the flush runs outside any request).
        """
        for key_id, used_at in uses.items():
            key = self._load(key_id)
            if key is not None:
                key.record_use(used_at)
                with command_metadata.acting(user_id=key.user_id, api_key_id=str(key_id)):
                    self.save(key)

    # -- the external API's authentication -------------------------------

    def authenticate(self, raw_key: str, candidates: Iterable[UUID]) -> ApiKey | None:
        """The active key among ``candidates`` (ids with the key's head) that ``raw_key`` is, else None."""
        if not looks_like_key(raw_key):
            return None
        for key_id in candidates:
            key = self._load(key_id)
            if key is not None and key.is_active and matches(raw_key, key.salt, key.hash):
                return key
        return None

    def active_key(self, key_id: UUID) -> ApiKey | None:
        """The key as it is now, if it is still active (the state is read from the event store)."""
        key = self._load(key_id)
        return key if key is not None and key.is_active else None

    # -- helpers --------------------------------------------------------

    def _load(self, key_id: UUID) -> ApiKey | None:
        try:
            key: object = self.repository.get(key_id)
        except AggregateNotFoundError:
            return None
        return key if isinstance(key, ApiKey) else None

    def _owned(self, user_id: str, key_id: UUID) -> ApiKey:
        key = self._load(key_id)
        if key is None or key.user_id != user_id:
            raise ApiKeyNotFoundError("API key not found")
        return key

    @staticmethod
    def _written(key: ApiKey, recordings: list[Recording[UUID]]) -> ApiKeyWritten:
        return ApiKeyWritten(
            key.id,
            position_of(recordings),
            user_id=key.user_id,
            name=key.name,
            description=key.description,
            head=key.head,
            tail=key.tail,
            status=str(key.status),
            permissions=list(key.permissions),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )
