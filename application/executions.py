"""The executions context: request, stop, delete and share graph executions.

One eventsourcing Application ("executions") with its own events table and
notification log. Runs themselves are driven by the executor
(``application.executor``); this module holds the user-facing commands.
Reading runs is the read side's job (``projections.executions.queries``).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ConnectionPoolClosedError, IntegrityError, PersistenceError, Recording
from eventsourcing.utils import get_topic

from application.results import RunRequested, Written, position_of
from application.secret_inputs import RunInputSecrets, SecretInputUnavailableError
from domain.blocks.base import BlockInputError, BlockType
from domain.execution import HOUSEKEEPING, RUN_ENDINGS, ExecutionStopRequest, GraphExecution
from domain.execution_status import TERMINAL, ExecutionStatus
from domain.graph import GraphContent
from domain.graph_validation import BlockLookup, GraphValidationError
from domain.not_found import ExecutionNotFoundError
from domain.secret_inputs import mask_sealed, secret_input_names

S = ExecutionStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionPeek:
    """Who owns a run and where it stands, without loading it."""

    execution_id: UUID
    graph_id: str
    user_id: str
    status: ExecutionStatus

    @property
    def is_finished(self) -> bool:
        """True once the run has ended."""
        return self.status in TERMINAL


_STATUS_AFTER = {
    get_topic(GraphExecution.Requested): S.INCOMPLETE,
    get_topic(GraphExecution.Queued): S.QUEUED,
    **{get_topic(ending): status for ending, status in RUN_ENDINGS.items()},
}
"""A run's status when its last event has this topic (RUNNING for any other)."""

_HOUSEKEEPING_TOPICS = frozenset(get_topic(event_type) for event_type in HOUSEKEEPING)
_DELETED_TOPIC = get_topic(GraphExecution.Deleted)
"""Topics of events recorded after a run ended (delete, share): its status is that of the last event before them."""

SHARE_TOKEN_BYTES = 32
"""Random bytes in a share token (``secrets.token_urlsafe``: 43 URL-safe characters, 256 bits: unguessable)."""


@dataclass(frozen=True)
class ShareWritten(Written):
    """A run's share token, and the position of the event that recorded it (None: it was shared already)."""

    share_token: str


class ExecutionsApplication(Application[UUID]):
    """Use cases of the executions context."""

    name = "executions"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)

    # -- commands ----------------------------------------------------------

    def request_execution(
        self,
        *,
        user_id: str,
        graph_id: str,
        graph_version: int,
        graph: GraphContent,
        lookup: BlockLookup,
        inputs: dict[str, Any],
        credentials_inputs: dict[str, Any] | None = None,
        parent_execution_id: str | None = None,
        parent_node_exec_id: str | None = None,
        secrets: RunInputSecrets | None = None,
        execution_id: UUID | None = None,
        preset_id: str | None = None,
    ) -> RunRequested:
        """Check the inputs against the graph's input nodes, then record a queued run.

        Raises ``GraphValidationError`` (``node_errors`` keyed by input node)
        when a required input is missing or a value does not fit its input
        block; nothing is recorded then. Values of ``secret`` input nodes are
        recorded sealed by ``secrets`` (``application.secret_inputs``), and
        answered masked; without ``secrets`` such a run is refused.
        ``execution_id``: the run's id when the caller derives it (a schedule's
        tick: ``IntegrityError`` if that run exists already), else a new one.
        ``preset_id``: the preset the run was started from (``application.library``).
        """
        check_inputs(graph, lookup, inputs)
        execution_id = execution_id or uuid4()
        names = secret_input_names(graph, lookup) & inputs.keys()
        if names:
            if secrets is None:
                raise SecretInputUnavailableError("secret inputs cannot be sealed here: no encryption key configured")
            inputs = secrets.seal_inputs(user_id, execution_id, names, inputs)
        execution = GraphExecution.request(
            execution_id=execution_id,
            graph_id=graph_id,
            graph_version=graph_version,
            user_id=user_id,
            inputs=inputs,
            credentials_inputs=_credentials_references(credentials_inputs or {}),
            parent_execution_id=parent_execution_id,
            parent_node_exec_id=parent_node_exec_id,
            preset_id=preset_id,
        )
        recordings = self.save(execution)
        return RunRequested(
            execution.id,
            position_of(recordings),
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            inputs=mask_sealed(execution.inputs),
            credentials_inputs=execution.credentials_inputs,
            preset_id=preset_id,
        )

    def request_stop(self, user_id: str, execution_id: UUID, graph_id: str | None = None) -> Written:
        """Stop a run: a queued run ends at once, a running one is told to stop.

        A running run's stream belongs to its executor, so the request is
        recorded as its own ``ExecutionStopRequest``; the executor sees it,
        cancels the running blocks and records the termination. Asking twice
        is harmless. The result names the position of what was written
        (``None`` when the run had already ended: nothing to write).
        Raises ``ExecutionNotFoundError`` for someone else's run, or one
        that is not a run of ``graph_id`` when given.
        """
        peek = self.peek(user_id, execution_id)
        if graph_id is not None and peek.graph_id != graph_id:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        if peek.is_finished:
            return Written(execution_id, None)
        if peek.status == S.QUEUED:
            execution = self.load(execution_id)
            if execution is not None and execution.status == S.QUEUED:
                execution.terminate(stats={})  # nobody runs it yet: end it here
                try:
                    return Written(execution_id, position_of(self.save(execution)))
                except IntegrityError:
                    pass  # an executor just took it: ask it to stop instead
        try:
            recordings = self.save(ExecutionStopRequest.for_execution(execution_id, user_id))
        except IntegrityError:  # asked before: once is enough
            return Written(execution_id, None)
        return Written(execution_id, position_of(recordings))

    def stop_request_for(self, execution_id: UUID) -> ExecutionStopRequest | None:
        """The stop request recorded for a run, if any."""
        try:
            request: object = self.repository.get(ExecutionStopRequest.id_for(execution_id))
        except AggregateNotFoundError:
            return None
        return request if isinstance(request, ExecutionStopRequest) else None

    def delete_execution(self, user_id: str, execution_id: UUID) -> Written:
        """Soft-delete the caller's finished run (AutoGPT's ``DELETE /executions/{id}``); its share ends with it.

        Raises ``ExecutionNotFoundError`` for someone else's, an unknown or an
        already deleted run (nothing recorded), ``ExecutionNotFinishedError``
        (409) for a run that has not ended: stop it first.
        """
        execution = self._owned(user_id, execution_id, None)
        execution.delete(requested_by=user_id)
        return Written(execution_id, position_of(self.save(execution)))

    def share_execution(self, user_id: str, execution_id: UUID, graph_id: str) -> ShareWritten:
        """Share the caller's finished run of ``graph_id``: its outputs become readable with the token returned.

        Sharing a run that is shared already answers its token again and
        records nothing (a link already handed out keeps working). Raises
        ``ExecutionNotFoundError`` / ``ExecutionNotFinishedError`` as ``delete_execution``.
        """
        execution = self._owned(user_id, execution_id, graph_id)
        if execution.share_token is not None:  # only a finished run is ever shared
            return ShareWritten(execution_id, None, execution.share_token)
        token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
        execution.share(token, requested_by=user_id)
        return ShareWritten(execution_id, position_of(self.save(execution)), token)

    def unshare_execution(self, user_id: str, execution_id: UUID, graph_id: str) -> Written:
        """Stop sharing the caller's run of ``graph_id``: its token names nothing from then on.

        A run that is not shared is left as it is (nothing recorded, position None).
        Raises ``ExecutionNotFoundError`` for someone else's, an unknown or a deleted run.
        """
        execution = self._owned(user_id, execution_id, graph_id)
        if not execution.unshare(requested_by=user_id):
            return Written(execution_id, None)
        return Written(execution_id, position_of(self.save(execution)))

    def _owned(self, user_id: str, execution_id: UUID, graph_id: str | None) -> GraphExecution:
        """The caller's run (of ``graph_id`` when given), not deleted; else ``ExecutionNotFoundError``."""
        peek = self.peek(user_id, execution_id)  # ownership from the first event, before any replay
        if graph_id is not None and peek.graph_id != graph_id:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        execution = self.load(execution_id)
        # the loaded run says again whose it is: a housekeeping command never rests on one check alone
        if execution is None or execution.user_id != user_id or execution.deleted:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        return execution

    # -- reads the write side needs -------------------------------------

    def load(self, execution_id: UUID) -> GraphExecution | None:
        """The run, whoever owns it (for the executor)."""
        try:
            execution: object = self.repository.get(execution_id)
        except AggregateNotFoundError:
            return None
        return execution if isinstance(execution, GraphExecution) else None

    def load_or_fail(self, execution_id: UUID) -> GraphExecution | None:
        """The run, for the executor to take; a run whose stored events cannot be replayed is failed instead.

        A stored event that does not decode, or an aggregate that raises on
        replay, would otherwise leave the run queued for ever (or retried for
        ever): it is logged once and ended as FAILED by a ``Failed`` event
        appended after its last stored one (``fail_unloadable``); None then.
        A failing store is not the run's fault: that error is raised as it is.
        """
        try:
            return self.load(execution_id)
        except (PersistenceError, ConnectionPoolClosedError):
            raise
        except Exception as error:
            reason = f"the run's stored events cannot be loaded: {type(error).__name__}: {error}"[:2000]
            ended = self.fail_unloadable(execution_id, reason)
            log.error("execution %s %s (%s)", execution_id, reason, "failed it" if ended else "it had ended")
            return None

    def fail_unloadable(self, execution_id: UUID, error: str) -> bool:
        """End a run as FAILED without replaying it; False when it had ended (or changed meanwhile)."""
        last = self.recorder.select_events(execution_id, desc=True, limit=1)
        if not last or self._status_from_log(execution_id) in TERMINAL:
            return False
        failed = GraphExecution.Failed(  # type: ignore[call-arg]
            originator_id=execution_id,
            originator_version=last[0].originator_version + 1,
            timestamp=GraphExecution.Failed.create_timestamp(),
            error=error,
            stats={},
        )
        try:
            self.record_events([failed])
        except IntegrityError:  # another event got there first: the next load decides again
            return False
        return True

    def peek(self, user_id: str, execution_id: UUID) -> ExecutionPeek:
        """Owner and status of a run from its first and last events only.

        Cheap however long the run is (two indexed reads, no replay). A
        deleted run (its last event is ``Deleted``: nothing follows it) is not found.
        """
        first = self.recorder.select_events(execution_id, limit=1)
        if not first:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        requested = self.mapper.to_domain_event(first[0])
        if not isinstance(requested, GraphExecution.Requested) or requested.user_id != user_id:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        status = self._status_from_log(execution_id, refuse_deleted=True)
        return ExecutionPeek(execution_id, requested.graph_id, user_id, S.INCOMPLETE if status is None else status)

    def _status_from_log(self, execution_id: UUID, *, refuse_deleted: bool = False) -> ExecutionStatus | None:
        """The run's status from its last events (None: no events): housekeeping events after its end are skipped.

        Usually one indexed read of the last events; a run shared and unshared
        many times costs one more read per 50 of those. With ``refuse_deleted``
        a deleted run raises ``ExecutionNotFoundError``.
        """
        below: int | None = None
        while True:
            # the last event alone first (events can be large): it is the run's own one but after housekeeping
            page = self.recorder.select_events(execution_id, lte=below, desc=True, limit=1 if below is None else 50)
            if not page:
                return None
            if refuse_deleted and below is None and page[0].topic == _DELETED_TOPIC:
                raise ExecutionNotFoundError(f"Execution {execution_id} not found")
            for stored in page:
                if stored.topic not in _HOUSEKEEPING_TOPICS:
                    return _STATUS_AFTER.get(stored.topic, S.RUNNING)
            below = page[-1].originator_version - 1

    def record_events(self, events: list[Any]) -> list[Recording[UUID]]:
        """Store already-collected events in one transaction (the executor's group commit).

        Same effect as ``save(*events)`` without its per-object protocol
        checks, which cost more than the database write at executor rates.
        """
        recordings = self.events.put(events)
        self._notify(recordings)
        return recordings


def check_inputs(graph: GraphContent, lookup: BlockLookup, inputs: dict[str, Any]) -> None:
    """Every required graph input is given and every given value fits its input block."""
    node_errors: dict[str, dict[str, str]] = {}
    for node in graph.nodes:
        block = lookup(node.block_id)
        if block is None or block.block_type != BlockType.INPUT:
            continue
        name = node.input_default.get("name")
        if not isinstance(name, str):
            continue
        if name in inputs:
            try:
                block.validate_input({**node.input_default, "value": inputs[name]})
            except BlockInputError as exc:
                node_errors[node.id] = {name: exc.message}
        elif node.input_default.get("value") is None:
            node_errors[node.id] = {name: "This field is required"}
    if node_errors:
        raise GraphValidationError(node_errors, [])


_CREDENTIALS_REFERENCE_KEYS = ("id", "provider", "type", "title")


def _credentials_references(credentials_inputs: dict[str, Any]) -> dict[str, Any]:
    """Keep only references to credentials (never a secret) in the recorded request."""
    kept: dict[str, Any] = {}
    for name, value in credentials_inputs.items():
        if isinstance(value, dict):
            kept[name] = {k: value[k] for k in _CREDENTIALS_REFERENCE_KEYS if k in value}
    return kept
