"""Store profiles: how a creator appears in the store (AutoGPT's ``Profile``).

One ``StoreProfile`` per user (its id is derived from the user id); each
``POST /api/store/profile`` records the whole profile again (``Saved``).
A username is unique across users: each is a ``StoreUsername`` claim whose
id is derived from the name, saved in the same transaction as the profile,
so of two users racing for one free name exactly one gets it; a name given
up is released and free again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

PROFILE_NAMESPACE = uuid.UUID("0d7a4c8e-3f0a-4b7e-9b1c-6a2f5d9e8c21")
"""Profile ids are ``uuid5(PROFILE_NAMESPACE, user_id)``: one profile per user."""


class UsernameTakenError(Exception):
    """Another user holds the username (409)."""


def username_id_for(username: str) -> uuid.UUID:
    """The id of ``username``'s claim (lower-case names)."""
    return uuid.uuid5(PROFILE_NAMESPACE, f"username:{username}")


def profile_id_for(user_id: str) -> uuid.UUID:
    """The id of ``user_id``'s profile (whether or not it exists yet)."""
    return uuid.uuid5(PROFILE_NAMESPACE, user_id)


class StoreProfile(Aggregate):
    """One user's public creator profile."""

    class Created(Aggregate.Created):
        """The user's first profile save."""

        user_id: str

    @event(Created)
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.name = ""
        self.username = ""
        self.description = ""
        self.links: list[str] = []
        self.avatar_url: str | None = None
        self.updated_at = ""

    @classmethod
    def create(cls, user_id: str) -> StoreProfile:
        """A blank profile of ``user_id`` (saved together with its first ``Saved``)."""
        return cls._create(cls.Created, id=profile_id_for(user_id), user_id=user_id)

    def save(self, name: str, username: str, description: str, links: list[str], avatar_url: str | None) -> None:
        """Replace the profile's fields (nothing is recorded when nothing changes)."""
        fields = (name, username, description, list(links), avatar_url)
        if fields != (self.name, self.username, self.description, self.links, self.avatar_url):
            self._saved(
                name=name,
                username=username,
                description=description,
                links=list(links),
                avatar_url=avatar_url,
                updated_at=datetime.now(UTC).isoformat(),
            )

    class Saved(Aggregate.Event):
        """The profile's fields as the user saved them."""

        name: str
        username: str
        description: str
        links: list[str]
        avatar_url: str | None
        updated_at: str

    @event(Saved)
    def _saved(
        self, name: str, username: str, description: str, links: list[str], avatar_url: str | None, updated_at: str
    ) -> None:
        self.name = name
        self.username = username
        self.description = description
        self.links = list(links)
        self.avatar_url = avatar_url
        self.updated_at = updated_at


class StoreUsername(Aggregate):
    """Who holds one username (None once released)."""

    class Created(Aggregate.Created):
        """A user claimed the name first."""

        user_id: str

    @event(Created)
    def __init__(self, user_id: str) -> None:
        self.holder: str | None = user_id

    @classmethod
    def claim(cls, username: str, user_id: str) -> StoreUsername:
        """The first claim of ``username``."""
        return cls._create(cls.Created, id=username_id_for(username), user_id=user_id)

    def reclaim(self, user_id: str) -> None:
        """Take the name again (free, or already ``user_id``'s); ``UsernameTakenError`` if another holds it."""
        if self.holder not in (None, user_id):
            raise UsernameTakenError("Username is already taken")
        if self.holder is None:
            self._assigned(user_id=user_id)

    class Assigned(Aggregate.Event):
        """A released name was claimed again."""

        user_id: str

    @event(Assigned)
    def _assigned(self, user_id: str) -> None:
        self.holder = user_id

    def release(self) -> None:
        """Give the name up (its holder took another)."""
        self._released()

    class Released(Aggregate.Event):
        """The holder took another name: this one is free."""

    @event(Released)
    def _released(self) -> None:
        self.holder = None
