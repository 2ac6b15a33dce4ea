"""A user's library entry for one graph: favourite, archived, deleted, which version it points at.

``LibraryAgent`` is an event-sourced aggregate of the accounts context, one
per (user, graph): its id is ``library_agent_id(user_id, graph_id)`` (a
uuid5), so the library row the read side shows for a graph and the aggregate
its commands write are found from the same pair, and two concurrent adds of
the same graph meet on one stream instead of making two rows.

A graph a user creates is in their library without any event here: the
library read model gets its row from the graphs context's ``Graph.Created``
(no second write on graph creation; ``projections.library``). The aggregate
is written only by library commands: adding a store agent, a PATCH, a
DELETE. A graph the user owns gets its aggregate at its first PATCH or
DELETE (``created_by_user`` true). A graph added from the store is the
creator's; the entry records the versions the user was given
(``granted_versions``), which is what lets the user run it
(``application.library.RunnableGraphs``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

from domain.not_found import NotFoundError

LIBRARY_NAMESPACE = uuid.UUID("6f1d3c0e-2b9a-4d7e-9a51-3c8b7e0f4a21")
"""uuid5 namespace of library agent ids."""


def library_agent_id(user_id: str, graph_id: str) -> uuid.UUID:
    """The id of ``user_id``'s library entry for ``graph_id`` (the same on every call)."""
    return uuid.uuid5(LIBRARY_NAMESPACE, f"{user_id}|{graph_id}")


class LibraryAgentNotFoundError(NotFoundError):
    """No such library agent for this user: unknown, deleted or someone else's."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LibraryAgent(Aggregate):
    """One graph in one user's library."""

    class Created(Aggregate.Created):
        """The entry got its first library command (a store add, or a change of an own graph's entry)."""

        user_id: str
        graph_id: str
        graph_version: int
        created_by_user: bool
        auto_update_version: bool
        granted_versions: list[int]
        image_url: str | None
        creator_name: str | None
        creator_image_url: str | None
        created_at: str

    @event(Created)
    def __init__(
        self,
        user_id: str,
        graph_id: str,
        graph_version: int,
        created_by_user: bool,
        auto_update_version: bool,
        granted_versions: list[int],
        image_url: str | None,
        creator_name: str | None,
        creator_image_url: str | None,
        created_at: str,
    ) -> None:
        self.user_id = user_id
        self.graph_id = graph_id
        self.graph_version = graph_version
        self.created_by_user = created_by_user
        self.auto_update_version = auto_update_version
        self.granted_versions = list(granted_versions)
        self.image_url = image_url
        self.creator_name = creator_name
        self.creator_image_url = creator_image_url
        self.is_favorite = False
        self.is_archived = False
        self.is_deleted = False

    @classmethod
    def for_own_graph(cls, user_id: str, graph_id: str, active_version: int) -> LibraryAgent:
        """The entry of a graph ``user_id`` created (it follows the graph's active version)."""
        return cls._create(
            cls.Created,
            id=library_agent_id(user_id, graph_id),
            user_id=user_id,
            graph_id=graph_id,
            graph_version=active_version,
            created_by_user=True,
            auto_update_version=True,
            granted_versions=[],
            image_url=None,
            creator_name=None,
            creator_image_url=None,
            created_at=_now(),
        )

    @classmethod
    def from_store(
        cls,
        user_id: str,
        graph_id: str,
        graph_version: int,
        *,
        image_url: str | None,
        creator_name: str | None,
        creator_image_url: str | None,
    ) -> LibraryAgent:
        """The entry of another creator's listed graph version (no copy: it stays the creator's)."""
        return cls._create(
            cls.Created,
            id=library_agent_id(user_id, graph_id),
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            created_by_user=False,
            auto_update_version=False,
            granted_versions=[graph_version],
            image_url=image_url,
            creator_name=creator_name,
            creator_image_url=creator_image_url,
            created_at=_now(),
        )

    def may_run(self, version: int) -> bool:
        """True when the entry (not deleted) gives its user ``version`` of someone else's graph."""
        return not self.is_deleted and version in self.granted_versions

    def add_store_version(self, graph_version: int) -> None:
        """Added (again) from the store: the version is granted and pointed at, a deleted entry comes back."""
        if self.is_deleted or graph_version != self.graph_version or graph_version not in self.granted_versions:
            self._store_version_added(graph_version=graph_version)

    class StoreVersionAdded(Aggregate.Event):
        """The user added a listed version of the graph (again): granted, pointed at, not deleted."""

        graph_version: int

    @event(StoreVersionAdded)
    def _store_version_added(self, graph_version: int) -> None:
        if graph_version not in self.granted_versions:
            self.granted_versions.append(graph_version)
        self.graph_version = graph_version
        self.is_deleted = False

    def update(
        self,
        *,
        auto_update_version: bool | None = None,
        graph_version: int | None = None,
        is_favorite: bool | None = None,
        is_archived: bool | None = None,
    ) -> None:
        """Change what is given (``None`` keeps a field); nothing is recorded when nothing changes."""

        wanted = {
            "auto_update_version": auto_update_version,
            "graph_version": graph_version,
            "is_favorite": is_favorite,
            "is_archived": is_archived,
        }
        changed = {name: value for name, value in wanted.items() if value is not None and getattr(self, name) != value}
        if changed:
            self._updated(
                auto_update_version=auto_update_version if "auto_update_version" in changed else None,
                graph_version=graph_version if "graph_version" in changed else None,
                is_favorite=is_favorite if "is_favorite" in changed else None,
                is_archived=is_archived if "is_archived" in changed else None,
                updated_at=_now(),
            )

    class Updated(Aggregate.Event):
        """The user changed the entry (each field ``None`` when it did not change)."""

        auto_update_version: bool | None
        graph_version: int | None
        is_favorite: bool | None
        is_archived: bool | None
        updated_at: str

    @event(Updated)
    def _updated(
        self,
        auto_update_version: bool | None,
        graph_version: int | None,
        is_favorite: bool | None,
        is_archived: bool | None,
        updated_at: str,
    ) -> None:
        for name, value in (
            ("auto_update_version", auto_update_version),
            ("graph_version", graph_version),
            ("is_favorite", is_favorite),
            ("is_archived", is_archived),
        ):
            if value is not None:
                setattr(self, name, value)

    def delete(self) -> None:
        """Remove the graph from the library (soft; a second delete changes nothing)."""
        if not self.is_deleted:
            self._deleted(user_id=self.user_id, graph_id=self.graph_id)

    class Deleted(Aggregate.Event):
        """The user removed the graph from their library: its schedules end (the schedules' process manager)."""

        user_id: str
        graph_id: str

    @event(Deleted)
    def _deleted(self, user_id: str, graph_id: str) -> None:
        self.is_deleted = True
