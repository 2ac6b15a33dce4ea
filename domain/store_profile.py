"""Store profiles: how a creator appears in the store (AutoGPT's ``Profile``).

One ``StoreProfile`` per user (its id is derived from the user id); each
``POST /api/store/profile`` records the whole profile again (``Saved``).
A username is unique across users: the claim is checked against the read
model before saving (``application.store``), so two users racing for one
free name within the read model's lag could both get it; the read side then
shows the earliest claim (decision: no username registry aggregate yet).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

PROFILE_NAMESPACE = uuid.UUID("0d7a4c8e-3f0a-4b7e-9b1c-6a2f5d9e8c21")
"""Profile ids are ``uuid5(PROFILE_NAMESPACE, user_id)``: one profile per user."""


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
