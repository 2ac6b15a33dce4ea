"""A user's data key: the key every secret of that user is sealed under (envelope encryption).

``UserDataKey`` is an aggregate of the accounts context with one id per user
(``UserDataKey.id_for(user_id)``). Its events record the *facts* about the
user's keys, never key material: which data key is current
(``data_key_id``), under which master key it is wrapped (``master_kid``), when
it was re-wrapped by a rotation, and when it was shredded.

The wrapped key itself lives outside the append-only log, in a key table
(``application.encryption.DataKeyStore``) where it can really be deleted:
an event log (and every Kafka topic and backup fed from it) keeps what was
written forever, so a wrapped key recorded in an event could be unwrapped by
anyone holding the master key, whatever later events say. Shredding deletes
the user's rows from the key table and records ``Shredded``: every
ciphertext sealed under those data keys is unreadable from then on, while
the log still loads and verifies (it never held the key).

After a shred a new data key (a fresh ``data_key_id``) is issued the next
time the user stores a secret; the shredded ids stay dead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

DATA_KEY_NAMESPACE = uuid.UUID("4b0e8f62-2c1d-4f5a-9d7e-6a3b1c0e9f21")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DataKeyShreddedError(Exception):
    """A shredded data key cannot be re-wrapped or used again."""


class UserDataKey(Aggregate):
    """The current data key of one user, as facts: its id, the master key wrapping it, its end."""

    class Issued(Aggregate.Created):
        """The user got a data key (its wrapped form went to the key table, not here)."""

        user_id: str
        data_key_id: str
        master_kid: str
        issued_at: str

    @event(Issued)
    def __init__(self, user_id: str, data_key_id: str, master_kid: str, issued_at: str) -> None:
        self.user_id = user_id
        self.data_key_id: str | None = data_key_id
        self.master_kid = master_kid
        self.issued_at = issued_at
        self.shredded_at: str | None = None
        self.shredded_ids: list[str] = []

    @staticmethod
    def id_for(user_id: str) -> uuid.UUID:
        """The one aggregate id of ``user_id``'s data key (so concurrent first uses collide, not duplicate)."""
        return uuid.uuid5(DATA_KEY_NAMESPACE, user_id)

    @staticmethod
    def new_data_key_id() -> str:
        """A fresh data key id (what every ciphertext sealed under that key names)."""
        return uuid.uuid4().hex

    @classmethod
    def issue(cls, user_id: str, data_key_id: str, master_kid: str) -> UserDataKey:
        """The user's first data key."""
        return cls._create(
            cls.Issued,
            id=cls.id_for(user_id),
            user_id=user_id,
            data_key_id=data_key_id,
            master_kid=master_kid,
            issued_at=_now(),
        )

    @property
    def is_shredded(self) -> bool:
        """True while the user has no usable data key (until a new one is issued)."""
        return self.data_key_id is None

    def reissue(self, data_key_id: str, master_kid: str) -> None:
        """A new data key after a shred."""
        if not self.is_shredded:
            raise DataKeyShreddedError(f"user {self.user_id} already has data key {self.data_key_id}")
        self._reissued(data_key_id=data_key_id, master_kid=master_kid, issued_at=_now())

    class Reissued(Aggregate.Event):
        """The user got a new data key after the previous one was shredded."""

        data_key_id: str
        master_kid: str
        issued_at: str

    @event(Reissued)
    def _reissued(self, data_key_id: str, master_kid: str, issued_at: str) -> None:
        self.data_key_id = data_key_id
        self.master_kid = master_kid
        self.issued_at = issued_at

    def rewrap(self, master_kid: str) -> None:
        """Record that the current data key is now wrapped under ``master_kid`` (a master key rotation)."""
        if self.is_shredded:
            raise DataKeyShreddedError(f"user {self.user_id}'s data key was shredded")
        if master_kid != self.master_kid:
            self._rewrapped(master_kid=master_kid)

    class Rewrapped(Aggregate.Event):
        """The data key was re-wrapped under another master key."""

        master_kid: str

    @event(Rewrapped)
    def _rewrapped(self, master_kid: str) -> None:
        self.master_kid = master_kid

    def shred(self) -> None:
        """Destroy the current data key (the key table row goes first; this records it)."""
        if self.data_key_id is not None:
            self._shredded(user_id=self.user_id, data_key_id=self.data_key_id, shredded_at=_now())

    class Shredded(Aggregate.Event):
        """The data key was destroyed: every secret sealed under it is unreadable for ever."""

        user_id: str  # read models drop the user's secrets' metadata by it
        data_key_id: str
        shredded_at: str

    @event(Shredded)
    def _shredded(self, user_id: str, data_key_id: str, shredded_at: str) -> None:
        # user_id is in the event for the read models: the aggregate knows its user already
        self.shredded_ids.append(data_key_id)
        self.shredded_at = shredded_at
        self.data_key_id = None
