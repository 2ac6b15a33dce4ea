"""The graphs context: create, version, activate, delete and read agent graphs.

One eventsourcing Application with its own events table and notification
log. Ownership is enforced here: a user only ever sees their own graphs, and
another user's graph is reported as not found, never as forbidden.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Recording
from eventsourcing.utils import get_topic

from application.positions import RemembersPositions
from domain.agent_format import GraphPayload, content_from_payload, export_graph, strip_secrets
from domain.graph import Graph, GraphContent, GraphDeletedError, GraphVersion, UnknownVersionError
from domain.graph_schema import graph_input_schema, graph_output_schema
from domain.graph_validation import BlockLookup, validate_graph


class GraphNotFoundError(LookupError):
    """No such graph (or version) for this user: unknown, deleted or someone else's."""


@dataclass(frozen=True)
class GraphView:
    """One graph version with its computed schemas, as queries return it."""

    graph: GraphVersion
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]

    @property
    def graph_uuid(self) -> UUID:
        """The graph's id as a UUID."""
        return UUID(self.graph.id)

    def as_dict(self) -> dict[str, Any]:
        """The AutoGPT graph shape (without sub-graphs)."""
        return {
            **self.graph.model_dump(),
            "sub_graphs": [],
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
        }


class _OwnerIndex:
    """Which graphs each user owns, kept by tailing the notification log.

    A small in-process projection so listing a user's graphs does not scan
    every aggregate. It catches up from its last position on every read, so
    it also sees graphs written by other processes sharing the event store.
    The read-model issue replaces it with a real projection.
    """

    def __init__(self, app: GraphsApplication) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._position = 0
        self._owner: dict[UUID, str] = {}
        self._deleted: set[UUID] = set()
        self._topics = [get_topic(Graph.Created), get_topic(Graph.Deleted)]

    def _catch_up(self) -> None:
        while True:
            batch = self._app.recorder.select_notifications(
                start=self._position, limit=1000, topics=self._topics, inclusive_of_start=False
            )
            if not batch:
                return
            for notification in batch:
                domain_event = self._app.mapper.to_domain_event(notification)
                if isinstance(domain_event, Graph.Created):
                    self._owner[domain_event.originator_id] = domain_event.user_id
                else:
                    self._deleted.add(domain_event.originator_id)
            self._position = batch[-1].id

    def graphs_of(self, user_id: str) -> list[UUID]:
        with self._lock:
            self._catch_up()
            return [gid for gid, owner in self._owner.items() if owner == user_id and gid not in self._deleted]


class GraphsApplication(RemembersPositions, Application[UUID]):
    """Use cases of the graphs context."""

    name = "graphs"

    def __init__(self, env: Mapping[str, str] | None = None, *, lookup: BlockLookup) -> None:
        super().__init__(env)
        self._lookup = lookup
        self._index = _OwnerIndex(self)
        self._listeners: list[Callable[[], None]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.remember_positions(recordings)
        for listener in self._listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every save in this process (wakes local tailers)."""
        self._listeners.append(listener)

    # -- commands -------------------------------------------------------

    def create_graph(self, user_id: str, payload: GraphPayload, *, fresh_ids: bool = True) -> GraphView:
        """Import or create a graph: secrets stripped, validated, stored as v1.

        Imports get fresh node and link ids (the API always asks for them);
        ``fresh_ids=False`` keeps the author's ids.
        """
        content = self._prepare(payload, fresh_ids=fresh_ids)
        graph = Graph.create(user_id, content)
        self.save(graph)
        return self._view(graph, None)

    def update_graph(self, user_id: str, graph_id: UUID, payload: GraphPayload) -> GraphView:
        """Record a new version (latest + 1) and make it active."""
        graph = self._owned(user_id, graph_id)
        content = self._prepare(payload, fresh_ids=False)
        try:
            number = graph.add_version(content)
        except GraphDeletedError as exc:
            raise GraphNotFoundError(str(exc)) from None
        self.save(graph)
        return self._view(graph, number)

    def set_active_version(self, user_id: str, graph_id: UUID, version: int) -> GraphView:
        """Choose the version new executions and plain GETs use."""
        graph = self._owned(user_id, graph_id)
        try:
            graph.set_active_version(version)
        except UnknownVersionError as exc:
            raise GraphNotFoundError(str(exc)) from None
        self.save(graph)
        return self._view(graph, version)

    def delete_graph(self, user_id: str, graph_id: UUID) -> int:
        """Soft-delete a graph; returns how many versions it had."""
        graph = self._owned(user_id, graph_id)
        graph.delete()
        self.save(graph)
        return len(graph.versions)

    # -- queries --------------------------------------------------------

    def get_graph(self, user_id: str, graph_id: UUID, version: int | None = None) -> GraphView:
        """One version (default: the active one) of one of the user's graphs."""
        return self._view(self._owned(user_id, graph_id), version)

    def list_versions(self, user_id: str, graph_id: UUID) -> list[GraphView]:
        """Every version of one of the user's graphs, newest first."""
        graph = self._owned(user_id, graph_id)
        return [self._view(graph, number) for number in sorted(graph.versions, reverse=True)]

    def list_graphs(self, user_id: str) -> list[GraphView]:
        """The active version of each of the user's graphs, newest first."""
        views = []
        for graph_id in self._index.graphs_of(user_id):
            graph = self._load(graph_id)
            if graph is not None and not graph.is_deleted:
                views.append(self._view(graph, None))
        views.sort(key=lambda v: v.graph.created_at, reverse=True)
        return views

    def graph_for_run(self, user_id: str, graph_id: str, version: int, *, new_run: bool = False) -> GraphContent:
        """One pinned version of one of the user's graphs.

        A run keeps running the version it was started with even if the
        graph is deleted or a newer version becomes active meanwhile; only a
        ``new_run`` of a deleted graph is refused (not found).
        """
        try:
            graph = self._load(UUID(graph_id))
        except ValueError:
            graph = None
        if graph is None or graph.user_id != user_id or (new_run and graph.is_deleted):
            raise GraphNotFoundError(f"Graph {graph_id} not found")
        try:
            return graph.content(version)
        except UnknownVersionError as exc:
            raise GraphNotFoundError(str(exc)) from None

    def export_graph(self, user_id: str, graph_id: UUID, version: int | None = None) -> dict[str, Any]:
        """One version as an AutoGPT export."""
        return export_graph(self.get_graph(user_id, graph_id, version).graph, self._lookup)

    # -- helpers --------------------------------------------------------

    def _prepare(self, payload: GraphPayload, *, fresh_ids: bool) -> GraphContent:
        content = content_from_payload(payload, fresh_ids=fresh_ids)
        content = strip_secrets(content, self._lookup)
        return validate_graph(content, self._lookup)

    def _load(self, graph_id: UUID) -> Graph | None:
        try:
            graph: object = self.repository.get(graph_id)
        except AggregateNotFoundError:
            return None
        return graph if isinstance(graph, Graph) else None

    def _owned(self, user_id: str, graph_id: UUID) -> Graph:
        graph = self._load(graph_id)
        if graph is None or graph.user_id != user_id or graph.is_deleted:
            raise GraphNotFoundError(f"Graph {graph_id} not found")
        return graph

    def _view(self, graph: Graph, version: int | None) -> GraphView:
        try:
            snapshot = graph.snapshot(version)
        except UnknownVersionError as exc:
            raise GraphNotFoundError(str(exc)) from None
        content = GraphContent.model_validate(snapshot.model_dump())
        return GraphView(
            graph=snapshot,
            input_schema=graph_input_schema(content, self._lookup),
            output_schema=graph_output_schema(content, self._lookup),
        )
