"""The graph model: nodes running blocks, joined by pin-to-pin links.

``Graph`` is the event-sourced aggregate. Every change of nodes, links, name,
description or instructions records a new immutable version (1, 2, 3 ...);
one version is active; a deleted graph keeps its history but takes no new
executions. Nodes and links are value objects shaped like AutoGPT's graph
JSON so an exported agent round-trips unchanged.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel, ConfigDict, Field


class Link(BaseModel):
    """A connection from a source node's output pin to a sink node's input pin."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class Node(BaseModel):
    """A block placed in a graph with its preset inputs."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class GraphContent(BaseModel):
    """What one version of a graph holds: everything a user edits."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    description: str = ""
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: str | None = None
    forked_from_version: int | None = None
    nodes: list[Node] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


class GraphDeletedError(Exception):
    """The graph was deleted: it keeps its history but accepts no changes."""


class UnknownVersionError(Exception):
    """The graph has no such version."""


class Graph(Aggregate):
    """An agent graph with its full version history.

    Events carry plain JSON-able dicts (nodes, links) so the stored stream is
    readable by audit tooling without our classes.
    """

    class Created(Aggregate.Created):
        """A user created a graph; its first version comes in the same event."""

        user_id: str
        content: dict[str, Any]

    @event(Created)
    def __init__(self, user_id: str, content: dict[str, Any]) -> None:
        self.user_id = user_id
        self.versions: dict[int, dict[str, Any]] = {1: content}
        self.version_created_at: dict[int, str] = {1: self.created_on.isoformat()}
        self.active_version = 1
        self.is_deleted = False

    @classmethod
    def create(cls, user_id: str, content: GraphContent, graph_id: uuid.UUID | None = None) -> Graph:
        """Start a new graph owned by ``user_id`` with ``content`` as version 1."""
        return cls._create(
            cls.Created,
            id=graph_id or uuid.uuid4(),
            user_id=user_id,
            content=content.model_dump(mode="json"),
        )

    @property
    def latest_version(self) -> int:
        """The highest version number."""
        return max(self.versions)

    def add_version(self, content: GraphContent, activate: bool = True) -> int:
        """Record ``content`` as version ``latest + 1``; return its number."""
        self._ensure_not_deleted()
        number = self.latest_version + 1
        self._version_created(
            version=number,
            content=content.model_dump(mode="json"),
            activate=activate,
            created_at=datetime.now(UTC).isoformat(),
        )
        return number

    class VersionCreated(Aggregate.Event):
        """A new version of nodes, links and texts was saved."""

        version: int
        content: dict[str, Any]
        activate: bool
        created_at: str

    @event(VersionCreated)
    def _version_created(self, version: int, content: dict[str, Any], activate: bool, created_at: str) -> None:
        self.versions[version] = content
        self.version_created_at[version] = created_at
        if activate:
            self.active_version = version

    def set_active_version(self, version: int) -> None:
        """Make ``version`` the one new executions and the default GET use."""
        self._ensure_not_deleted()
        if version not in self.versions:
            raise UnknownVersionError(f"Graph {self.id} has no version {version}")
        if version != self.active_version:
            self._active_version_changed(version=version)

    class ActiveVersionChanged(Aggregate.Event):
        """Another version became the active one."""

        version: int

    @event(ActiveVersionChanged)
    def _active_version_changed(self, version: int) -> None:
        self.active_version = version

    def delete(self) -> None:
        """Soft-delete: history kept, no new versions or executions."""
        self._ensure_not_deleted()
        self._deleted()

    class Deleted(Aggregate.Event):
        """The graph was deleted (soft: its history stays)."""

    @event(Deleted)
    def _deleted(self) -> None:
        self.is_deleted = True

    def content(self, version: int | None = None) -> GraphContent:
        """The content of ``version`` (default: the active one)."""
        number = self.active_version if version is None else version
        if number not in self.versions:
            raise UnknownVersionError(f"Graph {self.id} has no version {number}")
        return GraphContent.model_validate(self.versions[number])

    def _ensure_not_deleted(self) -> None:
        if self.is_deleted:
            raise GraphDeletedError(f"Graph {self.id} was deleted")
