"""What a command returns: the ids it touched and the log position it wrote.

A command's caller (an API route, the CLI) builds its answer and its
read-your-writes token from these values, in whatever thread it likes;
nothing is remembered between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.graph import GraphContent


class _Recording(Protocol):
    @property
    def notification(self) -> Any: ...


def position_of(recordings: Sequence[_Recording]) -> int | None:
    """The highest notification-log position among a save's recordings (None if nothing was written)."""
    return max((int(r.notification.id) for r in recordings), default=None)


@dataclass(frozen=True)
class Written:
    """One aggregate changed by a command, and where its last event landed in the context's log."""

    aggregate_id: UUID
    position: int | None


@dataclass(frozen=True)
class GraphSaved(Written):
    """A graph version as a command left it (created, updated or activated)."""

    user_id: str
    version: int
    is_active: bool
    created_at: str
    content: GraphContent


@dataclass(frozen=True)
class GraphDeleted(Written):
    """A deleted graph and how many versions it had."""

    version_count: int


@dataclass(frozen=True)
class RunRequested(Written):
    """A queued run, as the request recorded it."""

    user_id: str
    graph_id: str
    graph_version: int
    inputs: dict[str, Any]
    credentials_inputs: dict[str, Any]
    preset_id: str | None = None


@dataclass(frozen=True)
class ApiKeyWritten(Written):
    """An API key as a command left it (never its raw form)."""

    user_id: str
    name: str
    description: str | None
    head: str
    tail: str
    status: str
    permissions: list[str]
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
