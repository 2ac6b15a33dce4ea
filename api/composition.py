"""What a process is made of: the parts a role may need, built from ``Settings``.

A part is infrastructure that opens something (connections, files, a key):
the graphs and executions event stores, every context's event log, the read
store, the JWT key. ``build_container`` builds the parts it is asked for and
nothing else; which role asks for which is decided in ``api.bootstrap``.
The services built on these parts (executor, projector, relay) are made in
``api.bootstrap``; everything else receives what it needs.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from typing import Annotated, TypeVar
from uuid import UUID

import redis.asyncio as aioredis
from eventsourcing.application import Application
from fastapi import Depends, HTTPException, Request

from adapters.block_workers import BlockWorkerPool
from adapters.blocks.http import HttpPolicy, http_blocks
from adapters.blocks.llm import LLMConfig, llm_blocks
from adapters.data_key_store import build_data_key_store
from adapters.encryption_keys import load_master_keys
from adapters.event_log import EventLog
from adapters.jwt_keys import JWTConfig, load_jwt_config
from adapters.live_bus import InProcessLiveBus
from adapters.persistence import event_store_env
from adapters.pipeline_metrics import PipelineMetrics
from adapters.read_store import PostgresReadStore, ReadStore, SQLiteReadStore
from adapters.redis_client import redis_client
from adapters.settings import Settings
from adapters.store_cache import StoreCache
from application.accounts import AccountsApplication
from application.agent_block import AgentExecutorBlock
from application.block_runner import BlockRunner
from application.contexts import LATER_CONTEXTS
from application.credentials import CredentialsService
from application.credits import Credits
from application.encryption import DataKeyStore, MasterKeyRing, SecretsVault
from application.executions import ExecutionsApplication
from application.graphs import GraphsApplication
from application.library import ApprovedVersion, Library, RunnableGraphs, StoreListings
from application.notifications import NotificationCommands
from application.schedules import ScheduleInputSecrets, SchedulesApplication
from application.secret_inputs import RunInputSecrets
from application.store import StoreApplication
from domain.blocks.base import Block
from domain.blocks.registry import BlockRegistry, all_blocks
from projections.api_keys.queries import ApiKeyQueries
from projections.credentials.queries import CredentialsQueries
from projections.credits.queries import CreditQueries
from projections.executions.queries import ExecutionQueries
from projections.graphs.queries import GraphQueries
from projections.library.queries import LibraryQueries
from projections.notifications.queries import NotificationQueries
from projections.registry import all_projections
from projections.schedules.queries import ScheduleQueries
from projections.store_listings.queries import StoreQueries

CONTEXTS: tuple[str, ...] = ("graphs", "executions", *LATER_CONTEXTS)
"""Every bounded context: each has its own event store, notification log and Kafka topic."""


class Part(enum.Enum):
    """Infrastructure a role may need."""

    STORES = "the graphs and executions event stores"
    LOGS = "every context's event log (accounts, store and schedules included)"
    READ_STORE = "the read-model store"
    JWT = "the JWT verification key"
    BLOCK_WORKERS = "the worker processes that run CPU-bound blocks (started with the first such block)"
    REDIS = "the Redis client (only when AGENTGRAPH_REDIS_URL is set; embedded mode has none)"
    ACCOUNTS = "the accounts event store (API keys: the external API checks each key's state there)"
    RUN_EVENTS = "the executions event store (live updates read it: a run's replay, the in-process notifier)"
    SECRETS = "the master encryption keys (integration credentials: sealing, opening, erasing, rotating)"


EVERY_PART = frozenset(Part)

_T = TypeVar("_T")


class PartNotBuiltError(RuntimeError):
    """A process used a part its roles did not ask for (a wiring bug, never a user error)."""


class Container:
    """The parts one process built, and the block library (which opens nothing, so every process has it).

    Reading a part that was not built raises ``PartNotBuiltError``: a relay
    that reached for the read store would fail at once, not open a pool.
    """

    def __init__(
        self,
        settings: Settings,
        blocks: BlockRegistry,
        *,
        graphs: GraphsApplication | None = None,
        executions: ExecutionsApplication | None = None,
        later_contexts: dict[str, Application[UUID]] | None = None,
        read_store: ReadStore | None = None,
        jwt: JWTConfig | None = None,
        block_workers: BlockWorkerPool | None = None,
        redis: aioredis.Redis | None = None,
        accounts: AccountsApplication | None = None,
        data_keys: DataKeyStore | None = None,
        master_keys: MasterKeyRing | None = None,
    ) -> None:
        self.settings = settings
        self.blocks = blocks
        self._graphs = graphs
        self._executions = executions
        self._later_contexts = later_contexts
        self._read_store = read_store
        self._jwt = jwt
        self._block_workers = block_workers
        self._redis = redis
        later_accounts = (later_contexts or {}).get("accounts")
        self._accounts = accounts or (later_accounts if isinstance(later_accounts, AccountsApplication) else None)
        self._data_keys = data_keys  # built with the accounts store (its key table sits beside it)
        self._master_keys = master_keys
        self._in_process_bus: InProcessLiveBus | None = None

    @property
    def parts(self) -> frozenset[Part]:
        """The parts this container holds."""
        built = {
            Part.STORES: self._graphs is not None,
            Part.LOGS: self._later_contexts is not None,
            Part.READ_STORE: self._read_store is not None,
            Part.JWT: self._jwt is not None,
            Part.BLOCK_WORKERS: self._block_workers is not None,
            Part.REDIS: self._redis is not None,
            Part.ACCOUNTS: self._accounts is not None,
            Part.RUN_EVENTS: self._executions is not None,
            Part.SECRETS: self._master_keys is not None and self._data_keys is not None,
        }
        return frozenset(part for part, present in built.items() if present)

    @property
    def graphs(self) -> GraphsApplication:
        """The graphs context (commands, and the versions the executor runs)."""
        return _built(self._graphs, Part.STORES)

    @property
    def executions(self) -> ExecutionsApplication:
        """The executions context (built with the stores, or alone for live updates: ``Part.RUN_EVENTS``)."""
        return _built(self._executions, Part.RUN_EVENTS)

    @property
    def accounts(self) -> AccountsApplication:
        """The accounts context (API keys): built with every context's log, or alone (``Part.ACCOUNTS``)."""
        return _built(self._accounts, Part.ACCOUNTS)

    @property
    def api_key_queries(self) -> ApiKeyQueries:
        """The API keys query side (read models only)."""
        return ApiKeyQueries(self.read_store)

    @property
    def credits(self) -> Credits:
        """The credits use cases, on the accounts context (``AGENTGRAPH_CREDITS_ENABLED`` and the starting grant)."""
        return Credits(
            self.accounts, enabled=self.settings.credits_enabled, starting_credits=self.settings.starting_credits
        )

    @property
    def credit_queries(self) -> CreditQueries:
        """The credits query side (read models only)."""
        starting = self.settings.starting_credits if self.settings.credits_enabled else 0
        return CreditQueries(self.read_store, starting_credits=starting)

    @property
    def in_process_bus(self) -> InProcessLiveBus:
        """The live updates' bus within this process (without Redis): the notifier, the notifications' push
        and the hub of this container's app share it."""
        if self._in_process_bus is None:
            self._in_process_bus = InProcessLiveBus()
        return self._in_process_bus

    @property
    def notification_commands(self) -> NotificationCommands:
        """The user's notification preferences and read marks (accounts context)."""
        return NotificationCommands(self.accounts)

    @property
    def notification_queries(self) -> NotificationQueries:
        """The notifications query side (read models only)."""
        return NotificationQueries(self.read_store, self.blocks.get)

    @property
    def credentials(self) -> CredentialsService:
        """Integration credentials: stored sealed, opened for a node run, erased with the user's data key."""
        keys = _built(self._master_keys, Part.SECRETS)
        vault = SecretsVault(self.accounts, keys, _built(self._data_keys, Part.SECRETS))
        return CredentialsService(self.accounts, vault)

    @property
    def run_inputs(self) -> RunInputSecrets | None:
        """Secret run inputs: sealed when a run is requested, opened by the executor (None without the keys)."""
        if Part.SECRETS not in self.parts:
            return None
        keys = _built(self._master_keys, Part.SECRETS)
        return RunInputSecrets(SecretsVault(self.accounts, keys, _built(self._data_keys, Part.SECRETS)))

    @property
    def schedules(self) -> SchedulesApplication:
        """The schedules context (built with every context's log)."""
        app = _built(self._later_contexts, Part.LOGS)["schedules"]
        assert isinstance(app, SchedulesApplication)
        return app

    @property
    def schedule_secrets(self) -> ScheduleInputSecrets | None:
        """A schedule's secret inputs: sealed for the schedule, opened when it fires (None without the keys)."""
        run_inputs = self.run_inputs
        return ScheduleInputSecrets(run_inputs.vault) if run_inputs is not None else None

    @property
    def schedule_queries(self) -> ScheduleQueries:
        """The schedules query side (read models only)."""
        return ScheduleQueries(self.read_store)

    @property
    def credentials_queries(self) -> CredentialsQueries:
        """The credentials query side (metadata only)."""
        return CredentialsQueries(self.read_store)

    @property
    def store(self) -> StoreApplication:
        """The store context (profiles, listings, reviews): built with every context's log."""
        app = _built(self._later_contexts, Part.LOGS)["store"]
        assert isinstance(app, StoreApplication)
        return app

    @property
    def store_queries(self) -> StoreQueries:
        """The store query side (read models only)."""
        return StoreQueries(self.read_store)

    @property
    def store_cache(self) -> StoreCache:
        """The store's answers cached in Redis (no cache without AGENTGRAPH_REDIS_URL)."""
        return StoreCache(self.redis, self.settings.redis_key_prefix)

    @property
    def read_store(self) -> ReadStore:
        """The read models."""
        return _built(self._read_store, Part.READ_STORE)

    @property
    def jwt(self) -> JWTConfig:
        """How bearer tokens are verified."""
        return _built(self._jwt, Part.JWT)

    @property
    def block_runner(self) -> BlockRunner:
        """Where blocks run: CPU-bound ones in worker processes a timeout can kill."""
        return _built(self._block_workers, Part.BLOCK_WORKERS)

    @property
    def redis(self) -> aioredis.Redis | None:
        """The process's one Redis client (``adapters.redis_client``); None without AGENTGRAPH_REDIS_URL.

        None is a deployment choice, not a wiring bug: embedded mode keeps
        rate limits (and later pub/sub) in process.
        """
        return self._redis

    @property
    def graph_queries(self) -> GraphQueries:
        """The graphs query side (read models only)."""
        return GraphQueries(self.read_store, self.blocks.get)

    @property
    def run_queries(self) -> ExecutionQueries:
        """The executions query side (read models only)."""
        return ExecutionQueries(self.read_store)

    @property
    def store_listings(self) -> StoreListings:
        """The store's approved listing versions (its read model), for adding store agents to a library."""
        return _ApprovedListings(self.store_queries)

    @property
    def runnable_graphs(self) -> RunnableGraphs:
        """Graph versions a user may run: their own, and store agents in their library (``application.library``)."""
        return RunnableGraphs(self.graphs, self.accounts if Part.ACCOUNTS in self.parts else None)

    @property
    def library(self) -> Library:
        """Library and preset commands (accounts context), with the graphs and executions they reach."""
        return Library(
            self.accounts,
            self.graphs,
            listings=self.store_listings,
            lookup=self.blocks.get,
            executions=self.executions,
            secrets=self.run_inputs,
        )

    @property
    def library_queries(self) -> LibraryQueries:
        """The library query side (library, graphs and runs read models)."""
        return LibraryQueries(self.read_store, self.blocks.get)

    @property
    def event_logs(self) -> dict[str, EventLog]:
        """Each bounded context's log, by context name."""
        later = _built(self._later_contexts, Part.LOGS)
        logs = {"graphs": EventLog("graphs", self.graphs), "executions": EventLog("executions", self.executions)}
        logs.update({context: EventLog(context, app) for context, app in later.items()})
        return logs

    def close(self) -> None:
        """Release what was built (database connections)."""
        apps = [self._graphs, self._executions, *(self._later_contexts or {}).values()]
        if self._accounts is not None and all(self._accounts is not app for app in apps):
            apps.append(self._accounts)  # built alone (``Part.ACCOUNTS`` without ``Part.LOGS``)
        for app in apps:
            if app is not None:
                app.close()
        if self._data_keys is not None:
            self._data_keys.close()
        if self._read_store is not None:
            self._read_store.close()
        if self._block_workers is not None:
            self._block_workers.close()


class _ApprovedListings:
    """The library's port onto the store: the store read model's approved versions, in the library's terms."""

    def __init__(self, queries: StoreQueries) -> None:
        self._queries = queries

    def approved_version(self, store_listing_version_id: str) -> ApprovedVersion | None:
        """The approved version (None when unknown, not approved, withdrawn or its graph deleted)."""
        found = self._queries.approved_version(store_listing_version_id)
        if found is None:
            return None
        return ApprovedVersion(
            store_listing_version_id=found.store_listing_version_id,
            graph_id=found.graph_id,
            graph_version=found.graph_version,
            owner_user_id=found.owner_user_id,
            image_url=found.image_url,
            creator_name=found.creator_name,
            creator_avatar=found.creator_avatar,
        )


def _built(part: _T | None, name: Part) -> _T:
    if part is None:
        raise PartNotBuiltError(f"this process did not build {name.value}: its roles do not need it")
    return part


def build_container(
    settings: Settings | None = None,
    blocks: BlockRegistry | None = None,
    *,
    parts: Collection[Part] = EVERY_PART,
    create_tables: bool = True,
) -> Container:
    """Build ``parts`` (default: all) from ``settings``; ``blocks`` overrides the block library.

    ``create_tables=False`` is how distributed processes start: the tables are
    made once by ``agentgraph db init``, because several processes creating
    them at the same first start can collide in PostgreSQL's catalog. The JWT
    key comes first: a missing key fails before any connection is opened.
    """
    settings = settings or Settings()
    blocks = blocks or build_block_registry(settings)
    wanted = set(parts)
    if Part.LOGS in wanted:
        # every context's log includes the graphs and executions logs, and the accounts store
        wanted |= {Part.STORES, Part.ACCOUNTS}
    if Part.STORES in wanted:
        wanted.add(Part.RUN_EVENTS)
    if Part.SECRETS in wanted:
        wanted.add(Part.ACCOUNTS)  # data keys are issued, shredded and re-wrapped through the accounts context
    jwt = load_jwt_config(settings) if Part.JWT in wanted else None
    master_keys = load_master_keys(settings) if Part.SECRETS in wanted else None  # a missing key fails first too
    graphs: GraphsApplication | None = None
    executions: ExecutionsApplication | None = None
    later: dict[str, Application[UUID]] | None = None
    accounts: AccountsApplication | None = None
    read_store: ReadStore | None = None
    data_keys: DataKeyStore | None = None
    try:
        if Part.STORES in wanted:
            graphs = GraphsApplication(
                event_store_env(settings, "graphs", create_table=create_tables), lookup=blocks.get
            )
        if Part.RUN_EVENTS in wanted:
            executions = ExecutionsApplication(event_store_env(settings, "executions", create_table=create_tables))
        if Part.LOGS in wanted:
            # only accounts is written to (API keys, checked on every external-API request)
            later = {
                context: app_class(
                    event_store_env(
                        settings, context, create_table=create_tables, pool_size=None if context == "accounts" else 1
                    )
                )
                for context, app_class in LATER_CONTEXTS.items()
            }
        elif Part.ACCOUNTS in wanted:
            accounts = AccountsApplication(event_store_env(settings, "accounts", create_table=create_tables))
        if Part.ACCOUNTS in wanted:
            data_keys = build_data_key_store(settings, create_table=create_tables)
        if Part.READ_STORE in wanted:
            read_store = build_read_store(settings, create_tables=create_tables)
    except BaseException:
        Container(
            settings,
            blocks,
            graphs=graphs,
            executions=executions,
            later_contexts=later,
            accounts=accounts,
            data_keys=data_keys,
        ).close()
        raise
    return Container(
        settings,
        blocks,
        graphs=graphs,
        executions=executions,
        later_contexts=later,
        accounts=accounts,
        data_keys=data_keys,
        master_keys=master_keys,
        read_store=read_store,
        jwt=jwt,
        block_workers=BlockWorkerPool(settings.block_workers) if Part.BLOCK_WORKERS in wanted else None,
        # connects lazily: building it opens nothing, so a Redis outage never stops a process starting
        redis=redis_client(settings.redis_url) if Part.REDIS in wanted and settings.redis_url else None,
    )


def build_read_store(settings: Settings, *, create_tables: bool = True) -> ReadStore:
    """The read-model database: PostgreSQL's ``read`` schema, or ``read.sqlite3`` embedded."""
    store: ReadStore
    if settings.database_url:
        store = PostgresReadStore(settings.database_url)
    else:
        store = SQLiteReadStore(settings.data_dir / "read.sqlite3")
    if create_tables:
        store.create_tables(all_projections())
    return store


def build_block_registry(settings: Settings) -> BlockRegistry:
    """The block library this process offers: the pure blocks, sub-agents, network blocks."""
    blocks: list[Block] = [*all_blocks(), AgentExecutorBlock()]
    blocks.extend(llm_blocks(LLMConfig(base_url=settings.llm_base_url, api_key=settings.llm_api_key)))
    blocks.extend(http_blocks(HttpPolicy(allow_private_networks=settings.http_allow_private_networks)))
    return BlockRegistry(blocks)


class TablesMissingError(RuntimeError):
    """A distributed process started before ``agentgraph db init``."""


def check_tables(container: Container) -> None:
    """Fail clearly when the tables of the parts this container built do not exist yet."""
    missing: list[str] = []
    stores = event_stores(container)
    for context, app in stores.items():
        try:
            EventLog(context, app).head()
        except Exception:
            missing.append(f"{context}_events")
    if Part.READ_STORE in container.parts:
        try:
            container.read_store.positions("graphs")
        except Exception:
            missing.append("read.projection_positions")
    if missing:
        raise TablesMissingError(f"tables missing ({', '.join(missing)}): run `agentgraph db init` first")


def event_stores(container: Container) -> dict[str, Application[UUID]]:
    """context -> application, for every event store ``container`` built (all of them, or some alone)."""
    if Part.LOGS in container.parts:
        return {context: event_log.app for context, event_log in container.event_logs.items()}
    stores: dict[str, Application[UUID]] = {}
    if Part.STORES in container.parts:
        stores["graphs"] = container.graphs
    if Part.RUN_EVENTS in container.parts:
        stores["executions"] = container.executions
    if Part.ACCOUNTS in container.parts:
        stores["accounts"] = container.accounts
    return stores


async def get_container(request: Request) -> Container:
    """FastAPI dependency: the container of the running app.

    ``async`` because it does no I/O: FastAPI runs a plain ``def`` dependency in its thread pool, a hand-off
    that costs every request more than the lookup (measured by ``tests/benchmarks/test_api_latency.py``).
    """
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_pipeline_metrics(request: Request) -> PipelineMetrics:
    """FastAPI dependency: the running app's pipeline metrics (with its relay and projector counters).

    503 in a process without every event store and the read store (``api-queries``): the figures
    are the stores' heads against the read models' positions; an ``api`` or ``api-commands`` process has them.
    """
    metrics: PipelineMetrics | None = request.app.state.pipeline_metrics
    if metrics is None:
        raise PipelineNotHereError()
    return metrics


class PipelineNotHereError(HTTPException):
    """503: this process cannot see the whole pipeline (an ``api-queries`` process)."""

    code = "not_served_here"

    def __init__(self) -> None:
        super().__init__(
            status_code=503,
            detail="This process does not read every event store (role api-queries): ask an api or api-commands one",
        )


PipelineMetricsDep = Annotated[PipelineMetrics, Depends(get_pipeline_metrics)]
