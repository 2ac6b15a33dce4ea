"""Presets: a user's saved inputs and credentials for one graph version, to run it again.

``AgentPreset`` is an event-sourced aggregate of the accounts context
(AutoGPT's ``AgentPreset``). Its events never hold a secret in clear: the
values of the graph's ``secret`` inputs are recorded sealed (as a run's are,
``application.library``), and credentials are references
(``{id, provider, type, title}``). Delete is soft: the preset is gone for its
user, its history stays.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.not_found import NotFoundError


class PresetNotFoundError(NotFoundError):
    """No such preset for this user: unknown, deleted or someone else's."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


PRESET_FIELDS = ("name", "description", "is_active", "inputs", "credentials", "graph_version")
"""What an update may change."""


class AgentPreset(Aggregate):
    """Saved inputs of one graph version."""

    class Created(Aggregate.Created):
        """A user saved a preset."""

        user_id: str
        graph_id: str
        graph_version: int
        name: str
        description: str
        is_active: bool
        inputs: dict[str, Any]
        credentials: dict[str, Any]
        created_at: str

    @event(Created)
    def __init__(
        self,
        user_id: str,
        graph_id: str,
        graph_version: int,
        name: str,
        description: str,
        is_active: bool,
        inputs: dict[str, Any],
        credentials: dict[str, Any],
        created_at: str,
    ) -> None:
        self.user_id = user_id
        self.graph_id = graph_id
        self.graph_version = graph_version
        self.name = name
        self.description = description
        self.is_active = is_active
        self.inputs = dict(inputs)
        self.credentials = dict(credentials)
        self.created_at = created_at
        self.updated_at = created_at
        self.is_deleted = False

    @classmethod
    def create(
        cls,
        *,
        preset_id: uuid.UUID,
        user_id: str,
        graph_id: str,
        graph_version: int,
        name: str,
        description: str,
        is_active: bool,
        inputs: dict[str, Any],
        credentials: dict[str, Any],
    ) -> AgentPreset:
        """A new preset (``inputs`` already sealed where secret, ``credentials`` references only)."""
        return cls._create(
            cls.Created,
            id=preset_id,
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            name=name,
            description=description,
            is_active=is_active,
            inputs=inputs,
            credentials=credentials,
            created_at=_now(),
        )

    def update(self, changes: dict[str, Any]) -> None:
        """Change the fields in ``changes`` (names from ``PRESET_FIELDS``); nothing recorded when nothing changes."""
        changed = {k: v for k, v in changes.items() if k in PRESET_FIELDS and getattr(self, k) != v}
        if changed:
            self._updated(changes=changed, updated_at=_now())

    class Updated(Aggregate.Event):
        """The user changed the preset: the new values of the changed fields."""

        changes: dict[str, Any]
        updated_at: str

    @event(Updated)
    def _updated(self, changes: dict[str, Any], updated_at: str) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.updated_at = updated_at

    def delete(self) -> None:
        """Soft-delete the preset (a second delete changes nothing)."""
        if not self.is_deleted:
            self._deleted(user_id=self.user_id, graph_id=self.graph_id)

    class Deleted(Aggregate.Event):
        """The user deleted the preset."""

        user_id: str
        graph_id: str

    @event(Deleted)
    def _deleted(self, user_id: str, graph_id: str) -> None:
        self.is_deleted = True
