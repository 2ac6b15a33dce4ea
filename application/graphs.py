"""The graphs context: create, version, activate and delete agent graphs.

One eventsourcing Application with its own events table and notification
log. Ownership is enforced here: a user only ever changes their own graphs,
and another user's graph is reported as not found, never as forbidden.
Reading graphs is the read side's job (``projections.graphs.queries``);
commands return what they wrote (``application.results``).

Concurrent changes of one graph: a command is "change the graph as it is
now" (a save is "record the next version"), so when another writer got its
event in first (the store refuses the same aggregate version twice) the
command reloads the graph and tries again, up to ``CONFLICT_ATTEMPTS`` times
with a short random pause. Only a graph that is still being changed by
others after that many tries raises ``GraphChangeConflictError`` (the API's
409 ``version_conflict``): nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from application.results import GraphDeleted, GraphSaved, position_of
from domain.agent_format import GraphPayload, content_from_payload, strip_secrets
from domain.graph import Graph, GraphContent, GraphDeletedError, UnknownVersionError
from domain.graph_validation import BlockLookup, validate_graph
from domain.not_found import GraphNotFoundError

CONFLICT_ATTEMPTS = 50
"""Tries of one command against a graph others keep changing (each loses only to a writer that won)."""

CONFLICT_PAUSE_SECONDS = 0.02
"""Longest random pause before a retry, so the losers of one race do not meet again in the next."""

_T = TypeVar("_T")


class GraphChangeConflictError(Exception):
    """Others changed the graph on every one of ``CONFLICT_ATTEMPTS`` tries: the caller may try again."""


class GraphsApplication(Application[UUID]):
    """Use cases of the graphs context."""

    name = "graphs"

    def __init__(self, env: Mapping[str, str] | None = None, *, lookup: BlockLookup) -> None:
        super().__init__(env)
        self._lookup = lookup

    # -- commands -------------------------------------------------------

    def create_graph(self, user_id: str, payload: GraphPayload, *, fresh_ids: bool = True) -> GraphSaved:
        """Import or create a graph: secrets stripped, validated, stored as v1.

        Imports get fresh node and link ids (the API always asks for them);
        ``fresh_ids=False`` keeps the author's ids.
        """
        content = self._prepare(payload, fresh_ids=fresh_ids)
        graph = Graph.create(user_id, content)
        return self._saved(graph, 1, self.save(graph))

    def update_graph(self, user_id: str, graph_id: UUID, payload: GraphPayload) -> GraphSaved:
        """Record a new version (latest + 1) and make it active."""
        content = self._prepare(payload, fresh_ids=False)

        def save_next() -> GraphSaved:
            graph = self._owned(user_id, graph_id)
            try:
                number = graph.add_version(content)
            except GraphDeletedError as exc:
                raise GraphNotFoundError(str(exc)) from None
            return self._saved(graph, number, self.save(graph))

        return _retrying_conflicts(graph_id, save_next)

    def set_active_version(self, user_id: str, graph_id: UUID, version: int) -> GraphSaved:
        """Choose the version new executions and plain GETs use."""

        def activate() -> GraphSaved:
            graph = self._owned(user_id, graph_id)
            try:
                graph.set_active_version(version)
            except UnknownVersionError as exc:
                raise GraphNotFoundError(str(exc)) from None
            return self._saved(graph, version, self.save(graph))

        return _retrying_conflicts(graph_id, activate)

    def delete_graph(self, user_id: str, graph_id: UUID) -> GraphDeleted:
        """Soft-delete a graph (its history stays)."""

        def delete() -> GraphDeleted:
            graph = self._owned(user_id, graph_id)
            graph.delete()
            recordings = self.save(graph)
            return GraphDeleted(graph.id, position_of(recordings), version_count=len(graph.versions))

        return _retrying_conflicts(graph_id, delete)

    def graph_for_run(self, user_id: str, graph_id: str, version: int, *, new_run: bool = False) -> GraphContent:
        """One pinned version of one of the user's graphs, for a run to execute.

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

    def active_version(self, user_id: str, graph_id: str) -> int:
        """The active version of one of the user's graphs (not found: deleted, unknown or someone else's)."""
        try:
            return self._owned(user_id, UUID(graph_id)).active_version
        except ValueError:
            raise GraphNotFoundError(f"Graph {graph_id} not found") from None

    def find(self, graph_id: str) -> Graph | None:
        """The graph as it is now, whoever owns it (None for an unknown id): for callers that decide access.

        The library (``application.library``) lets a user run a version of
        someone else's graph they added from the store; it decides, this reads.
        """
        try:
            return self._load(UUID(graph_id))
        except ValueError:
            return None

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

    @staticmethod
    def _saved(graph: Graph, version: int, recordings: list[Recording[UUID]]) -> GraphSaved:
        return GraphSaved(
            graph.id,
            position_of(recordings),
            user_id=graph.user_id,
            version=version,
            is_active=version == graph.active_version,
            created_at=graph.version_created_at[version],
            content=graph.content(version),
        )


def _retrying_conflicts(graph_id: UUID, change: Callable[[], _T]) -> _T:
    """Run ``change`` (load, change, save) again while another writer's event takes its place (module docstring)."""
    retrying = Retrying(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(CONFLICT_ATTEMPTS),
        wait=wait_random(0, CONFLICT_PAUSE_SECONDS),
        reraise=True,
    )
    try:
        return retrying(change)
    except IntegrityError:
        raise GraphChangeConflictError(
            f"Graph {graph_id} was changed by others on each of {CONFLICT_ATTEMPTS} tries; try again"
        ) from None
