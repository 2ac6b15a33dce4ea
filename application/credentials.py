"""Integration credentials use cases: store, delete, resolve for a run, erase a user's secrets.

The secrets of a set of credentials are sealed (``application.encryption``)
under the owner's data key before the ``IntegrationCredentials`` aggregate
records them, bound to the owner and the credentials id, so a ciphertext
copied to another aggregate does not open. Listing is the read side's job
(``projections.credentials``); this class reads aggregates only to change
them, and to resolve a node's credentials at run time (``resolve``: the
executor's port ``CredentialsSource``), where the secret is opened for that
one block run.

Ownership is enforced as for API keys: another user's credentials, deleted
ones and unknown ids all read as not found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.accounts import AccountsApplication
from application.encryption import SecretsVault, ShredResult, UnreadableSecretError
from application.results import Written, position_of
from domain.credentials import (
    CREDENTIALS_NOT_FOUND,
    PROVIDER_MISMATCH,
    SECRET_FIELDS,
    CredentialsMeta,
    CredentialsNotFoundError,
    CredentialsUnavailableError,
    IntegrationCredentials,
    ResolvedCredentials,
    unavailable_message,
)


class CredentialsSource(Protocol):
    """What the executor asks for a node's credentials (``CredentialsService`` is the one implementation)."""

    def resolve(self, user_id: str, reference: dict[str, Any]) -> ResolvedCredentials:
        """The user's credentials ``reference`` names, secrets in clear; ``CredentialsUnavailableError`` if not."""
        ...


@dataclass(frozen=True)
class CredentialsWritten(Written):
    """Credentials as a command left them: metadata only."""

    meta: CredentialsMeta


def _aad(user_id: str, credentials_id: UUID) -> bytes:
    return f"agentgraph credentials|{user_id}|{credentials_id}".encode()


class CredentialsService:
    """Use cases of integration credentials, on the accounts context."""

    def __init__(self, accounts: AccountsApplication, vault: SecretsVault) -> None:
        self.accounts = accounts
        self.vault = vault

    # -- commands -----------------------------------------------------------------------------

    def create(self, meta: CredentialsMeta, secrets: dict[str, Any]) -> CredentialsWritten:
        """Store credentials: ``secrets`` (the type's ``SECRET_FIELDS``) sealed, ``meta`` in clear."""
        kept = {name: secrets[name] for name in SECRET_FIELDS[meta.type] if secrets.get(name) is not None}
        credentials_id = IntegrationCredentials.new_id()
        plaintext = json.dumps(kept, separators=(",", ":")).encode()
        ciphertext = self.vault.seal(meta.user_id, plaintext, _aad(meta.user_id, credentials_id))
        credentials = IntegrationCredentials.store(credentials_id, meta, ciphertext)
        return CredentialsWritten(credentials.id, position_of(self.accounts.save(credentials)), credentials.meta)

    def delete(self, user_id: str, provider: str, credentials_id: str) -> CredentialsWritten:
        """Delete one of the user's credentials of ``provider``."""
        credentials = self._owned(user_id, credentials_id)
        if credentials.provider != provider:
            raise CredentialsNotFoundError(PROVIDER_MISMATCH)
        credentials.delete()
        return CredentialsWritten(credentials.id, position_of(self.accounts.save(credentials)), credentials.meta)

    def erase_user_secrets(self, user_id: str) -> ShredResult:
        """Crypto-shred: destroy the user's data key, so every secret of theirs is unreadable for ever."""
        return self.vault.shred(user_id)

    # -- the executor's port ------------------------------------------------------------------

    def resolve(self, user_id: str, reference: dict[str, Any]) -> ResolvedCredentials:
        """The credentials a node names, opened for one block run.

        ``CredentialsUnavailableError`` (a message naming no secret) when they
        are not the user's, were deleted, do not match the reference's provider
        or type, or can no longer be decrypted (the user's secrets were erased).
        """
        credentials_id = str(reference.get("id") or "")
        try:
            credentials = self._owned(user_id, credentials_id)
        except CredentialsNotFoundError:
            raise CredentialsUnavailableError(unavailable_message(credentials_id, user_id)) from None
        wanted_provider, wanted_type = reference.get("provider"), reference.get("type")
        if (wanted_provider and wanted_provider != credentials.provider) or (
            wanted_type and wanted_type != str(credentials.type)
        ):
            raise CredentialsUnavailableError(
                f"Invalid credentials #{credentials_id}: type/provider mismatch "
                f"(stored {credentials.provider}/{credentials.type}, node wants {wanted_provider}/{wanted_type})"
            )
        try:
            plaintext = self.vault.open(user_id, credentials.ciphertext, _aad(user_id, credentials.id))
        except UnreadableSecretError:
            raise CredentialsUnavailableError(
                f"{unavailable_message(credentials_id, user_id)}: its secrets cannot be decrypted (erased)"
            ) from None
        return ResolvedCredentials(id=str(credentials.id), meta=credentials.meta, secrets=json.loads(plaintext))

    # -- helpers ------------------------------------------------------------------------------

    def _owned(self, user_id: str, credentials_id: str) -> IntegrationCredentials:
        try:
            key = UUID(credentials_id)
            credentials: object = self.accounts.repository.get(key)
        except (ValueError, AggregateNotFoundError):
            raise CredentialsNotFoundError(CREDENTIALS_NOT_FOUND) from None
        if not isinstance(credentials, IntegrationCredentials) or credentials.user_id != user_id or credentials.deleted:
            raise CredentialsNotFoundError(CREDENTIALS_NOT_FOUND)
        return credentials
