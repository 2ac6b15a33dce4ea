"""The library and presets: use cases of the accounts context (``LibraryAgent``, ``AgentPreset``).

Decisions (where AutoGPT and the issue leave room):

- **No double write on graph creation.** A graph a user creates is in their
  library because the library read model (``projections.library``) makes a
  row of every ``Graph.Created``; sub-graphs are graphs the user created, so
  they are there too. The ``LibraryAgent`` aggregate (id
  ``library_agent_id(user, graph)``) is written only by library commands:
  an add from the store, a PATCH, a DELETE. An own graph's aggregate is
  created at its first PATCH or DELETE (``LibraryAgent.for_own_graph``).
- **Store agents are not copied.** Adding a listed version records the
  entry with that version granted (and the sub-graphs that version runs,
  each as an entry of its own), and the graph stays its creator's. The
  user may run a granted version of a graph in their (non-deleted) library
  (``RunnableGraphs``: the run route, the external API, the executor and its
  sub-agent runs all read graphs through it); everything else of another
  user's graph stays not found. The run is the runner's: charged to them,
  listed as theirs. A run already queued keeps running after the entry is
  deleted (as a run of a deleted graph does).
- **Presets never hold a secret in clear.** Credentials are references
  (``{id, provider, type, title}``); values of the graph's ``secret`` inputs
  are sealed under the user's data key, bound to the preset and the input
  name. Running a preset opens them, merges ``preset.inputs | body inputs``
  and requests the run as the run route does (sealed again for the run),
  with ``preset_id`` recorded on the run.
- **Fork** copies the graph version in the library and the sub-graphs it
  runs (new ids, sub-agent references rewritten), through the graphs
  context's create path: the copies are the user's and in their library.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random

from application.accounts import AccountsApplication
from application.agent_block import AgentExecutorBlock
from application.executions import ExecutionsApplication
from application.graphs import CONFLICT_ATTEMPTS, CONFLICT_PAUSE_SECONDS, GraphChangeConflictError, GraphsApplication
from application.results import GraphSaved, RunRequested, Written, position_of
from application.secret_inputs import RunInputSecrets, SecretInputUnavailableError
from domain.agent_format import GraphPayload
from domain.graph import Graph, GraphContent, UnknownVersionError
from domain.graph_validation import BlockLookup, is_credentials_field
from domain.library_agent import LibraryAgent, LibraryAgentNotFoundError, library_agent_id
from domain.not_found import ExecutionNotFoundError, GraphNotFoundError, NotFoundError
from domain.preset import AgentPreset, PresetNotFoundError
from domain.secret_inputs import OpenedSecrets, is_sealed, secret_input_names

MAX_SUB_GRAPHS = 100
"""A fork or a store add follows at most this many sub-graphs (a bound on hostile references)."""

MAX_NAME = 1000
"""Longest graph name (``GraphPayload``): a fork's `` (copy)`` suffix is kept within it."""

_CREDENTIALS_REFERENCE_KEYS = ("id", "provider", "type", "title")

_T = TypeVar("_T")


@dataclass(frozen=True)
class ApprovedVersion:
    """An approved store listing version, as the store context answers it.

    The library shows the graph version's own name and description (as
    AutoGPT's ``LibraryAgent`` does), so the listing's are not needed here.
    """

    store_listing_version_id: str
    graph_id: str
    graph_version: int
    owner_user_id: str
    image_url: str | None
    creator_name: str | None
    creator_avatar: str | None


class StoreListings(Protocol):
    """The store's answer to "which graph version is this approved listing version?" (the store context)."""

    def approved_version(self, store_listing_version_id: str) -> ApprovedVersion | None:
        """The approved version, or None when unknown or not approved."""
        ...


class StoreListingVersionNotFoundError(NotFoundError):
    """No approved store listing version with that id."""


class NothingToUpdateError(ValueError):
    """A PATCH without any value (AutoGPT: ``No values were passed to update``)."""


@dataclass(frozen=True)
class PresetWritten(Written):
    """A preset as a command left it (secret inputs sealed: the answer masks them)."""

    user_id: str
    graph_id: str
    graph_version: int
    name: str
    description: str
    is_active: bool
    inputs: dict[str, Any]
    credentials: dict[str, Any]
    updated_at: str


class RunnableGraphs:
    """Graph versions a user may run: their own, and the versions their library was given from the store.

    The one access rule for new runs (the run routes), runs resumed by the
    executor and sub-agent runs; it implements the executor's ``GraphSource``.
    """

    def __init__(self, graphs: GraphsApplication, accounts: AccountsApplication | None) -> None:
        self._graphs = graphs
        self._accounts = accounts

    def graph_for_run(self, user_id: str, graph_id: str, version: int, *, new_run: bool = False) -> GraphContent:
        """The content of the version, when ``user_id`` may run it; ``GraphNotFoundError`` otherwise."""
        try:
            return self._graphs.graph_for_run(user_id, graph_id, version, new_run=new_run)
        except GraphNotFoundError:
            if self._accounts is None or not self._granted(user_id, graph_id, version, new_run=new_run):
                raise
        graph = self._graphs.find(graph_id)
        if graph is None or (new_run and graph.is_deleted):
            raise GraphNotFoundError(f"Graph {graph_id} not found")
        try:
            return graph.content(version)
        except UnknownVersionError as exc:
            raise GraphNotFoundError(str(exc)) from None

    def _granted(self, user_id: str, graph_id: str, version: int, *, new_run: bool) -> bool:
        agent = _load(self._accounts, library_agent_id(user_id, graph_id), LibraryAgent)
        if agent is None or agent.user_id != user_id:
            return False
        return agent.may_run(version) if new_run else version in agent.granted_versions


class Library:
    """Library commands: add from the store, change, remove, fork; presets and their runs."""

    def __init__(
        self,
        accounts: AccountsApplication,
        graphs: GraphsApplication,
        *,
        listings: StoreListings,
        lookup: BlockLookup,
        executions: ExecutionsApplication | None = None,
        secrets: RunInputSecrets | None = None,
    ) -> None:
        self.accounts = accounts
        self.graphs = graphs
        self.listings = listings
        self.lookup = lookup
        self.executions = executions
        self.secrets = secrets
        self.runnable = RunnableGraphs(graphs, accounts)

    # -- library agents ---------------------------------------------------

    def add_from_store(self, user_id: str, store_listing_version_id: str) -> Written:
        """Put an approved listing version in the user's library (no copy); an existing entry is pointed at it.

        A deleted entry comes back. The sub-graphs that version runs are added
        too (entries of their own), so the user may run it whole.
        """
        approved = self.listings.approved_version(store_listing_version_id)
        graph = self.graphs.find(approved.graph_id) if approved is not None else None
        if (
            approved is None
            or graph is None
            or graph.is_deleted
            or graph.user_id != approved.owner_user_id
            or approved.graph_version not in graph.versions
        ):
            raise StoreListingVersionNotFoundError(f"Store listing version {store_listing_version_id} not found")
        # the sub-graphs first, the listed graph's entry last: the answer and its consistency token are about it
        for sub_graph, version in self._sub_graphs(graph.content(approved.graph_version), graph.user_id):
            self._add_version(user_id, sub_graph, version, None)
        return self._add_version(user_id, graph, approved.graph_version, approved)

    def _add_version(self, user_id: str, graph: Graph, version: int, approved: ApprovedVersion | None) -> Written:
        return _retrying_conflicts(lambda: self._add_version_once(user_id, graph, version, approved))

    def _add_version_once(self, user_id: str, graph: Graph, version: int, approved: ApprovedVersion | None) -> Written:
        agent = _load(self.accounts, library_agent_id(user_id, str(graph.id)), LibraryAgent)
        if agent is None and graph.user_id == user_id:
            agent = LibraryAgent.for_own_graph(user_id, str(graph.id), graph.active_version)
        elif agent is None:
            agent = LibraryAgent.from_store(
                user_id,
                str(graph.id),
                version,
                image_url=approved.image_url if approved else None,
                creator_name=approved.creator_name if approved else None,
                creator_image_url=approved.creator_avatar if approved else None,
            )
        if agent.is_deleted or not agent.created_by_user:
            agent.add_store_version(version)
        return Written(agent.id, position_of(self.accounts.save(agent)))

    def update(
        self,
        user_id: str,
        graph_id: str,
        *,
        auto_update_version: bool | None = None,
        graph_version: int | None = None,
        is_favorite: bool | None = None,
        is_archived: bool | None = None,
    ) -> Written:
        """Change the user's entry for ``graph_id`` (404 unless it is in their library; 400 with nothing to change).

        ``graph_version`` must be a version of an own graph, or one the store gave.
        """
        if all(v is None for v in (auto_update_version, graph_version, is_favorite, is_archived)):
            raise NothingToUpdateError("No values were passed to update")
        return _retrying_conflicts(
            lambda: self._update_once(user_id, graph_id, auto_update_version, graph_version, is_favorite, is_archived)
        )

    def _update_once(
        self,
        user_id: str,
        graph_id: str,
        auto_update_version: bool | None,
        graph_version: int | None,
        is_favorite: bool | None,
        is_archived: bool | None,
    ) -> Written:
        agent, graph = self._entry(user_id, graph_id)
        if graph_version is not None:
            allowed = graph.versions if agent.created_by_user else agent.granted_versions
            if graph_version not in allowed:
                raise GraphNotFoundError(f"Graph {graph_id} has no version {graph_version}")
        agent.update(
            auto_update_version=auto_update_version,
            graph_version=graph_version,
            is_favorite=is_favorite,
            is_archived=is_archived,
        )
        return Written(agent.id, position_of(self.accounts.save(agent)))

    def delete(self, user_id: str, graph_id: str) -> Written:
        """Remove the graph from the user's library (soft): ``LibraryAgent.Deleted`` ends its schedules."""

        def delete() -> Written:
            agent, _ = self._entry(user_id, graph_id)
            agent.delete()
            return Written(agent.id, position_of(self.accounts.save(agent)))

        return _retrying_conflicts(delete)

    def fork(self, user_id: str, graph_id: str, version: int) -> GraphSaved:
        """A copy of the version (and the sub-graphs it runs) owned by the user: ``<name> (copy)``, forked_from set."""
        content = self.runnable.graph_for_run(user_id, graph_id, version, new_run=True)
        copies: dict[tuple[str, int], str] = {}
        owner = self.graphs.find(graph_id)
        for sub_graph, sub_version in reversed(self._sub_graphs(content, owner.user_id if owner else user_id)):
            sub_content = sub_graph.content(sub_version)
            saved = self._create_copy(user_id, str(sub_graph.id), sub_version, sub_content, copies)
            copies[(str(sub_graph.id), sub_version)] = str(saved.aggregate_id)
        return self._create_copy(user_id, graph_id, version, content, copies)

    def _create_copy(
        self, user_id: str, graph_id: str, version: int, content: GraphContent, copies: Mapping[tuple[str, int], str]
    ) -> GraphSaved:
        payload = content.model_dump(mode="json")
        suffix = " (copy)"
        payload["name"] = content.name[: MAX_NAME - len(suffix)] + suffix
        payload["forked_from_id"], payload["forked_from_version"] = graph_id, version
        for node in payload["nodes"]:
            ref = _reference(node["block_id"], node["input_default"])
            if ref is not None and ref in copies:
                node["input_default"] = {**node["input_default"], "graph_id": copies[ref], "graph_version": 1}
                node["input_default"]["user_id"] = user_id
        return self.graphs.create_graph(user_id, GraphPayload.model_validate(payload), fresh_ids=True)

    def _entry(self, user_id: str, graph_id: str) -> tuple[LibraryAgent, Graph]:
        """The user's (non-deleted) entry for ``graph_id``, made now for an own graph that has none yet."""
        graph = self.graphs.find(graph_id)
        agent = _load(self.accounts, library_agent_id(user_id, graph_id), LibraryAgent)
        if graph is None or graph.is_deleted:
            raise LibraryAgentNotFoundError(f"Library agent for graph {graph_id} not found")
        if agent is None and graph.user_id == user_id:
            agent = LibraryAgent.for_own_graph(user_id, graph_id, graph.active_version)
        if agent is None or agent.user_id != user_id or agent.is_deleted:
            raise LibraryAgentNotFoundError(f"Library agent for graph {graph_id} not found")
        return agent, graph

    def _sub_graphs(self, content: GraphContent, owner_id: str) -> list[tuple[Graph, int]]:
        """The (graph, version) pairs ``content`` runs as sub-agents, breadth first, each once, of ``owner_id`` only."""
        found: list[tuple[Graph, int]] = []
        seen: set[tuple[str, int]] = set()
        frontier = [content]
        while frontier and len(found) < MAX_SUB_GRAPHS:
            next_frontier = []
            for graph_content in frontier:
                for node in graph_content.nodes:
                    ref = _reference(node.block_id, node.input_default)
                    if ref is None or ref in seen or len(found) >= MAX_SUB_GRAPHS:
                        continue
                    seen.add(ref)
                    graph = self.graphs.find(ref[0])
                    if graph is None or graph.user_id != owner_id or ref[1] not in graph.versions:
                        continue
                    found.append((graph, ref[1]))
                    next_frontier.append(graph.content(ref[1]))
            frontier = next_frontier
        return found

    # -- presets ----------------------------------------------------------

    def create_preset(
        self,
        user_id: str,
        *,
        graph_id: str,
        graph_version: int,
        name: str,
        description: str,
        is_active: bool,
        inputs: dict[str, Any],
        credentials: dict[str, Any],
    ) -> PresetWritten:
        """A preset of a graph version the user may run; credentials-named inputs move to ``credentials``."""
        content = self.runnable.graph_for_run(user_id, graph_id, graph_version, new_run=True)
        preset_id = uuid4()
        inputs, credentials = _split_credentials(inputs, credentials)
        preset = AgentPreset.create(
            preset_id=preset_id,
            user_id=user_id,
            graph_id=graph_id,
            graph_version=graph_version,
            name=name,
            description=description,
            is_active=is_active,
            inputs=self._seal(user_id, preset_id, content, inputs),
            credentials=credentials,
        )
        return _preset_written(preset, self.accounts.save(preset))

    def create_preset_from_run(
        self, user_id: str, execution_id: str, *, name: str, description: str, is_active: bool
    ) -> PresetWritten:
        """A preset with the inputs and credentials of one of the user's runs (its secret inputs sealed anew)."""
        execution = None
        if self.executions is not None:
            try:
                execution = self.executions.load(UUID(execution_id))
            except ValueError:
                execution = None
        if execution is None or execution.user_id != user_id:
            raise ExecutionNotFoundError(f"Execution {execution_id} not found")
        content = self.runnable.graph_for_run(user_id, execution.graph_id, execution.graph_version)
        inputs = self._open_run_inputs(user_id, execution.id, content, dict(execution.inputs))
        return self.create_preset(
            user_id,
            graph_id=execution.graph_id,
            graph_version=execution.graph_version,
            name=name,
            description=description,
            is_active=is_active,
            inputs=inputs,
            credentials=dict(execution.credentials_inputs),
        )

    def update_preset(self, user_id: str, preset_id: str, changes: dict[str, Any]) -> PresetWritten:
        """Change name, description, is_active, inputs or credentials (inputs and credentials replace the old)."""

        def update() -> PresetWritten:
            preset = self._preset(user_id, preset_id)
            wanted = changes
            if "inputs" in changes or "credentials" in changes:
                given = changes["inputs"] if "inputs" in changes else self._open_preset_inputs(preset)
                inputs, credentials = _split_credentials(given, changes.get("credentials", preset.credentials))
                content = self.runnable.graph_for_run(user_id, preset.graph_id, preset.graph_version)
                sealed = self._seal(user_id, preset.id, content, inputs)
                wanted = {**changes, "inputs": sealed, "credentials": credentials}
            preset.update(wanted)
            return _preset_written(preset, self.accounts.save(preset))

        return _retrying_conflicts(update)

    def delete_preset(self, user_id: str, preset_id: str) -> Written:
        """Soft-delete one of the user's presets."""

        def delete() -> Written:
            preset = self._preset(user_id, preset_id)
            preset.delete()
            return Written(preset.id, position_of(self.accounts.save(preset)))

        return _retrying_conflicts(delete)

    def execute_preset(
        self,
        user_id: str,
        preset_id: str,
        inputs: dict[str, Any],
        credentials_inputs: dict[str, Any],
    ) -> RunRequested:
        """Run the preset's graph version with ``preset.inputs | inputs``; the run records ``preset_id``."""
        if self.executions is None:
            raise RuntimeError("presets run where the executions context is built")
        preset = self._preset(user_id, preset_id)
        content = self.runnable.graph_for_run(user_id, preset.graph_id, preset.graph_version, new_run=True)
        merged = {**self._open_preset_inputs(preset), **inputs}
        return self.executions.request_execution(
            user_id=user_id,
            graph_id=preset.graph_id,
            graph_version=preset.graph_version,
            graph=content,
            lookup=self.lookup,
            inputs=merged,
            credentials_inputs={**preset.credentials, **credentials_inputs},
            secrets=self.secrets,
            preset_id=str(preset.id),
        )

    def _preset(self, user_id: str, preset_id: str) -> AgentPreset:
        try:
            preset = _load(self.accounts, UUID(preset_id), AgentPreset)
        except ValueError:
            preset = None
        if preset is None or preset.user_id != user_id or preset.is_deleted:
            raise PresetNotFoundError(f"Preset {preset_id} not found")
        return preset

    # -- sealing preset inputs ----------------------------------------------

    def _seal(self, user_id: str, preset_id: UUID, content: GraphContent, inputs: dict[str, Any]) -> dict[str, Any]:
        names = secret_input_names(content, self.lookup) & inputs.keys()
        if not names:
            return inputs
        if self.secrets is None:
            raise SecretInputUnavailableError("secret inputs cannot be sealed here: no encryption key configured")
        sealed = dict(inputs)
        for name in names:
            plaintext = json.dumps(inputs[name], separators=(",", ":")).encode()
            sealed[name] = self.secrets.vault.seal(user_id, plaintext, _preset_aad(user_id, preset_id, name))
        return sealed

    def _open_preset_inputs(self, preset: AgentPreset) -> dict[str, Any]:
        opened = dict(preset.inputs)
        for name, value in preset.inputs.items():
            if not is_sealed(value):
                continue
            if self.secrets is None:
                raise SecretInputUnavailableError("secret inputs cannot be opened here: no encryption key configured")
            try:
                plaintext = self.secrets.vault.open(preset.user_id, value, _preset_aad(preset.user_id, preset.id, name))
            except Exception:
                raise SecretInputUnavailableError(
                    f"Secret input {name!r} of preset {preset.id} cannot be decrypted"
                ) from None
            opened[name] = json.loads(plaintext)
        return opened

    def _open_run_inputs(
        self, user_id: str, execution_id: UUID, content: GraphContent, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        names = secret_input_names(content, self.lookup)
        if not any(is_sealed(inputs.get(name)) for name in names):
            return inputs
        if self.secrets is None:
            raise SecretInputUnavailableError("secret inputs cannot be opened here: no encryption key configured")
        opened = OpenedSecrets()
        self.secrets.open_inputs(user_id, execution_id, names, inputs, opened)
        result: dict[str, Any] = opened.reveal(inputs)
        return result


def _retrying_conflicts(change: Callable[[], _T]) -> _T:
    """Run ``change`` (load, change, save) again while another writer's event takes its place.

    Two first commands on one entry (two adds, an add and a PATCH) both try
    to record its ``Created``: the loser reloads and applies its change to the
    winner's entry. Still losing after ``CONFLICT_ATTEMPTS`` tries is a 409.
    """
    retrying = Retrying(
        retry=retry_if_exception_type(IntegrityError),
        stop=stop_after_attempt(CONFLICT_ATTEMPTS),
        wait=wait_random(0, CONFLICT_PAUSE_SECONDS),
        reraise=True,
    )
    try:
        return retrying(change)
    except IntegrityError:
        raise GraphChangeConflictError("It was changed by others on every try; try again") from None


def _preset_aad(user_id: str, preset_id: UUID, name: str) -> bytes:
    return f"agentgraph preset input|{user_id}|{preset_id}|{name}".encode()


def _split_credentials(inputs: dict[str, Any], credentials: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs named ``credentials``/``*_credentials`` go to ``credentials``; credentials keep references only."""
    kept = {name: value for name, value in inputs.items() if not is_credentials_field(name)}
    moved = {name: value for name, value in inputs.items() if is_credentials_field(name)}
    references = {}
    for name, value in {**credentials, **moved}.items():
        if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
            references[name] = {key: value[key] for key in _CREDENTIALS_REFERENCE_KEYS if key in value}
    return kept, references


def _reference(block_id: str, input_default: Mapping[str, Any]) -> tuple[str, int] | None:
    """The (graph id, version) an AgentExecutorBlock node runs, when both are given."""
    if block_id != AgentExecutorBlock.id:
        return None
    graph_id, version = input_default.get("graph_id"), input_default.get("graph_version")
    if isinstance(graph_id, str) and graph_id and isinstance(version, int) and version > 0:
        return graph_id, version
    return None


def _load(app: AccountsApplication | None, aggregate_id: UUID, kind: type[Any]) -> Any:
    if app is None:
        return None
    try:
        aggregate: object = app.repository.get(aggregate_id)
    except AggregateNotFoundError:
        return None
    return aggregate if isinstance(aggregate, kind) else None


def _preset_written(preset: AgentPreset, recordings: Any) -> PresetWritten:
    return PresetWritten(
        preset.id,
        position_of(recordings),
        user_id=preset.user_id,
        graph_id=preset.graph_id,
        graph_version=preset.graph_version,
        name=preset.name,
        description=preset.description,
        is_active=preset.is_active,
        inputs=dict(preset.inputs),
        credentials=dict(preset.credentials),
        updated_at=preset.updated_at,
    )
