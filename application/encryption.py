"""Secrets at rest: envelope encryption with a data key per user, wrapped by rotating master keys.

- A **master key** (``kid`` + 256-bit key) comes from ``AGENTGRAPH_ENCRYPTION_KEY``
  (``adapters.encryption_keys``). The ring holds several, newest first: new
  wraps use the newest, older ones stay readable until every data key has
  been re-wrapped (``rotate``).
- A **data key** per user seals that user's secrets. It is stored wrapped
  (sealed by a master key, bound to its user and id) in the ``DataKeyStore``,
  a table outside the event log, so that shredding can delete it
  (``domain.data_key`` explains why). The ``UserDataKey`` aggregate records
  the facts: which data key is current, under which master key.
- A **ciphertext** names its data key: ``agc1:<data_key_id>:<base64url(nonce | sealed)>``,
  and the wrapped data key names its master key's ``kid``: every key can rotate.

The cipher itself (AES-256-GCM) is an adapter behind ``Cipher``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.accounts import AccountsApplication
from application.results import position_of
from domain.data_key import UserDataKey

log = logging.getLogger(__name__)

CIPHERTEXT_PREFIX = "agc1"


class UnreadableSecretError(Exception):
    """A ciphertext cannot be opened: its data key was shredded, is missing, or the text was altered."""


class Cipher(Protocol):
    """Authenticated encryption with associated data (the adapter: AES-256-GCM)."""

    def new_key(self) -> bytes:
        """A fresh random key."""
        ...

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``plaintext`` encrypted and authenticated under ``key``, bound to ``aad`` (a fresh nonce inside)."""
        ...

    def open(self, key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext of ``sealed``; ``UnreadableSecretError`` if the key, the text or the aad do not match."""
        ...


@dataclass(frozen=True)
class StoredDataKey:
    """One row of the key table: a data key, wrapped by the master key ``master_kid``."""

    data_key_id: str
    user_id: str
    master_kid: str
    wrapped: bytes


class DataKeyStore(Protocol):
    """The key table: wrapped data keys, deletable (the event log is not)."""

    def put(self, key: StoredDataKey) -> None:
        """Insert or replace the row of ``key.data_key_id``."""
        ...

    def get(self, data_key_id: str) -> StoredDataKey | None:
        """The row of ``data_key_id``, if it still exists."""
        ...

    def all_keys(self) -> list[StoredDataKey]:
        """Every row (for a rotation)."""
        ...

    def delete(self, data_key_id: str) -> None:
        """Delete one row (a data key that lost the race to be issued)."""
        ...

    def delete_user(self, user_id: str) -> int:
        """Delete every data key of ``user_id``; returns how many rows went."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


@dataclass(frozen=True)
class MasterKeyRing:
    """The master keys, newest first: wrap with the newest, unwrap with whichever ``kid`` a row names."""

    keys: Sequence[tuple[str, bytes]]
    cipher: Cipher

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a master key ring needs at least one key")

    @property
    def newest_kid(self) -> str:
        """The kid new data keys are wrapped under."""
        return self.keys[0][0]

    def wrap(self, data_key: bytes, aad: bytes) -> tuple[str, bytes]:
        """``(kid, wrapped)`` of ``data_key`` under the newest master key."""
        kid, key = self.keys[0]
        return kid, self.cipher.seal(key, data_key, aad)

    def unwrap(self, kid: str, wrapped: bytes, aad: bytes) -> bytes:
        """The data key wrapped under ``kid``; ``UnreadableSecretError`` if that master key is not in the ring."""
        for known, key in self.keys:
            if known == kid:
                return self.cipher.open(key, wrapped, aad)
        raise UnreadableSecretError(f"master key {kid!r} is not configured (AGENTGRAPH_ENCRYPTION_KEY)")


def _wrap_aad(user_id: str, data_key_id: str) -> bytes:
    # a wrapped key moved to another user's or another id's row does not open
    return f"agentgraph data key|{user_id}|{data_key_id}".encode()


@dataclass(frozen=True)
class ShredResult:
    """What a shred did: whether any data key existed, and where its ``Shredded`` event landed."""

    destroyed: bool
    position: int | None


@dataclass(frozen=True)
class RotationReport:
    """What a rotation did."""

    newest_kid: str
    rewrapped: int
    already_current: int


class SecretsVault:
    """Seals and opens each user's secrets under that user's data key; shreds and re-wraps data keys."""

    def __init__(self, accounts: AccountsApplication, ring: MasterKeyRing, store: DataKeyStore) -> None:
        self.accounts = accounts
        self.ring = ring
        self.store = store

    # -- sealing and opening -------------------------------------------------------------------

    def seal(self, user_id: str, plaintext: bytes, aad: bytes) -> str:
        """``plaintext`` sealed under ``user_id``'s data key (issued on first use), as a ciphertext string."""
        data_key_id, key = self._current_key(user_id)
        sealed = self.ring.cipher.seal(key, plaintext, aad)
        return f"{CIPHERTEXT_PREFIX}:{data_key_id}:{base64.urlsafe_b64encode(sealed).decode()}"

    def open(self, user_id: str, ciphertext: str, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext``; ``UnreadableSecretError`` once its data key was shredded."""
        prefix, _, rest = ciphertext.partition(":")
        data_key_id, _, body = rest.partition(":")
        if prefix != CIPHERTEXT_PREFIX or not data_key_id or not body:
            raise UnreadableSecretError("not a ciphertext of this platform")
        row = self.store.get(data_key_id)
        if row is None or row.user_id != user_id:
            raise UnreadableSecretError(f"data key {data_key_id} does not exist (shredded?)")
        key = self.ring.unwrap(row.master_kid, row.wrapped, _wrap_aad(user_id, data_key_id))
        try:
            sealed = base64.urlsafe_b64decode(body.encode())
        except (binascii.Error, ValueError):
            raise UnreadableSecretError("the ciphertext is not base64") from None
        return self.ring.cipher.open(key, sealed, aad)

    # -- shredding and rotation ----------------------------------------------------------------

    def shred(self, user_id: str) -> ShredResult:
        """Destroy ``user_id``'s data keys: key rows first, then the ``Shredded`` fact (none if nothing was current)."""
        deleted = self.store.delete_user(user_id)
        data_key = self._load(user_id)
        if data_key is not None and not data_key.is_shredded:
            data_key.shred()
            return ShredResult(True, position_of(self.accounts.save(data_key)))
        return ShredResult(deleted > 0, None)

    def rotate(self) -> RotationReport:
        """Re-wrap every data key not under the newest master key (old master keys must still be in the ring)."""
        newest = self.ring.newest_kid
        rewrapped = current = 0
        for row in self.store.all_keys():
            if row.master_kid == newest:
                current += 1
                continue
            aad = _wrap_aad(row.user_id, row.data_key_id)
            key = self.ring.unwrap(row.master_kid, row.wrapped, aad)
            kid, wrapped = self.ring.wrap(key, aad)
            self.store.put(StoredDataKey(row.data_key_id, row.user_id, kid, wrapped))
            data_key = self._load(row.user_id)
            if data_key is not None and data_key.data_key_id == row.data_key_id:
                data_key.rewrap(kid)
                self.accounts.save(data_key)
            rewrapped += 1
        return RotationReport(newest, rewrapped, current)

    # -- helpers -------------------------------------------------------------------------------

    def _current_key(self, user_id: str) -> tuple[str, bytes]:
        for _ in range(3):  # two requests issuing a first key at once: one wins, the other reads its key
            data_key = self._load(user_id)
            if data_key is not None and not data_key.is_shredded and data_key.data_key_id is not None:
                row = self.store.get(data_key.data_key_id)
                if row is None:
                    raise UnreadableSecretError(f"data key {data_key.data_key_id} of user {user_id} is missing")
                return data_key.data_key_id, self.ring.unwrap(
                    row.master_kid, row.wrapped, _wrap_aad(user_id, data_key.data_key_id)
                )
            data_key_id = UserDataKey.new_data_key_id()
            key = self.ring.cipher.new_key()
            kid, wrapped = self.ring.wrap(key, _wrap_aad(user_id, data_key_id))
            # the row first: an event naming a key that is not stored would make the user's secrets unsealable
            self.store.put(StoredDataKey(data_key_id, user_id, kid, wrapped))
            if data_key is None:
                data_key = UserDataKey.issue(user_id, data_key_id, kid)
            else:
                data_key.reissue(data_key_id, kid)
            try:
                self.accounts.save(data_key)
            except IntegrityError:
                self.store.delete(data_key_id)  # another request issued one first: use that one
                continue
            return data_key_id, key
        raise RuntimeError(f"could not issue a data key for user {user_id}")

    def _load(self, user_id: str) -> UserDataKey | None:
        try:
            data_key: object = self.accounts.repository.get(UserDataKey.id_for(user_id))
        except AggregateNotFoundError:
            return None
        return data_key if isinstance(data_key, UserDataKey) else None
