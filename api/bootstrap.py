"""The composition root per role: which parts each role needs and which service it starts.

``ROLES`` is the one table; the CLI (``agentgraph serve --role ...``) and the
app's lifespan both read it. The API comes whole (``api``) or in halves
scaled apart: ``api-commands`` (POST/PUT/PATCH/DELETE: the aggregates) and
``api-queries`` (GET and ``/ws``: the read models); both halves asked for
together are ``api``. A process builds the union of its roles' parts
(``build_for``) and starts their services (``run_services``), so a Kafka
executor opens no read store and needs no JWT key, a relay opens no read
store, and the API opens no executor unless it runs that role too.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from adapters.background_worker import BackgroundWorker
from adapters.email_log import LogEmailSender
from adapters.event_log import EventLog
from adapters.execution_feed import ExecutionLogFeed
from adapters.kafka_execution_feed import KafkaExecutionFeed
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay, relay_position
from adapters.live_bus import LiveBus, RedisLiveBus
from adapters.notification_delivery import NotificationDelivery
from adapters.notification_push import NotificationPusher
from adapters.notifier import Notifier
from adapters.pipeline_metrics import PipelineMetrics, ProjectorCounters, RelayCounters
from adapters.postgres_recorder import joint_writer
from adapters.projection_runner import ProjectionRunner
from adapters.scheduler import Clock, Scheduler, wall_clock
from adapters.settings import Settings
from api.composition import CONTEXTS, Container, Part, build_container, check_tables
from application.charging import LedgerBook
from application.execution_observer import ExecutionObserver
from application.execution_writer import GroupCommitWriter
from application.executor import Executor, ExecutorConfig
from application.notifications import NotificationDeliverer
from application.schedules import ScheduleFiring
from domain.blocks.registry import BlockRegistry
from projections.envelope import EventEnvelope
from projections.registry import all_projections

log = logging.getLogger(__name__)

KAFKA_CONSUMER_CONFIG = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}
"""Consumer-group timings: a member that dies hands its partitions over within seconds."""


@functools.cache
def freeze_startup_heap() -> None:
    """Move what the process holds at start-up out of the garbage collector's reach, once per process.

    The executor allocates many objects per node (events, node state) and
    keeps many (the runs it drives), so CPython's full collections come
    often; each one walked the whole heap (modules, block schemas, pools):
    120-160 ms, a third of a 1,000-step run
    (``tests/benchmarks/test_executor_vs_peers.py``). After one collection
    of today's garbage, ``gc.freeze`` leaves the start-up objects out of
    every later collection; what is allocated afterwards is collected as
    before. This is CPython's documented use of ``gc.freeze`` (long-lived
    servers); it is process-wide, hence once per process.
    """
    gc.collect()
    gc.freeze()


class Service(Protocol):
    """What a worker role runs: started and stopped with its process."""

    async def start(self) -> None:
        """Start working (returns once running)."""
        ...

    async def stop(self) -> None:
        """Stop working; whatever is unfinished resumes elsewhere or on the next start."""
        ...


class ExecutorService:
    """The executor fed from the executions log (or its Kafka topic), started and stopped together."""

    def __init__(self, container: Container, config: ExecutorConfig | None = None) -> None:
        settings = container.settings
        ledgers: LedgerBook | None = None
        together = None
        if settings.credits_enabled:  # charging per node (application.charging)
            ledgers = LedgerBook(container.accounts, starting_credits=settings.starting_credits)
            together = joint_writer(container.executions, container.accounts)
        self.executor = Executor(
            container.executions,
            container.runnable_graphs,  # own graphs, and store agents in the runner's library
            container.blocks.get,
            GroupCommitWriter(container.executions, ledgers=ledgers, record_together=together),
            container.block_runner,
            config
            or ExecutorConfig(
                max_running_per_user=settings.max_running_per_user,
                node_timeout_seconds=settings.node_timeout_seconds,
                max_node_executions=settings.max_node_executions,
                max_subagent_depth=settings.max_subagent_depth,
            ),
            credentials=container.credentials if Part.SECRETS in container.parts else None,
            secret_inputs=container.run_inputs,
        )
        self.feed: ExecutionLogFeed | KafkaExecutionFeed
        if settings.kafka_bootstrap:
            self.feed = KafkaExecutionFeed(
                container.executions,
                self.executor,
                settings.kafka_bootstrap,
                settings.kafka_topic_prefix,
                settings.kafka_partitions,
                consumer_config=KAFKA_CONSUMER_CONFIG,
            )
        else:
            self.feed = ExecutionLogFeed(container.executions, self.executor)

    async def start(self) -> None:
        """Start writing, recover unfinished runs, then follow the log."""
        freeze_startup_heap()
        await self.executor.start()
        await self.feed.start()

    async def stop(self) -> None:
        """Stop following the log and let the executor go (runs resume on the next start)."""
        await self.feed.close()
        await self.executor.close()


class ProjectionService:
    """Keeps the read models current: a Kafka consumer when Kafka is configured, else the in-process runner."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        self.runner: ProjectionRunner | None = None
        self.kafka: KafkaProjector | None = None
        if settings.kafka_bootstrap:
            self.kafka = KafkaProjector(
                container.read_store,
                all_projections(),
                settings.kafka_bootstrap,
                settings.kafka_topic_prefix,
                sorted(CONTEXTS),
                consumer_config=KAFKA_CONSUMER_CONFIG,
            )
        else:
            self.runner = ProjectionRunner(container.read_store, all_projections(), container.event_logs)
        self._thread = BackgroundWorker("projector", self.kafka.run if self.kafka else None)
        self._notifications = NotificationsAfterCommit(container)
        if self.kafka is not None:
            self.kafka.committed = self._notifications
        if self.runner is not None:
            self.runner.committed = self._notifications

    @property
    def counters(self) -> ProjectorCounters:
        """What the projector counts, for the metrics endpoint."""
        if self.kafka is not None:
            return ProjectorCounters("kafka", self.kafka.received, self.kafka.applied)
        assert self.runner is not None
        return ProjectorCounters("event_store", self.runner.received, self.runner.projected)

    async def start(self) -> None:
        """Catch up and follow the logs (or the topics), and deliver the notifications' e-mails."""
        self._notifications.start()
        if self.runner is not None:
            await self.runner.start()
        self._thread.start()

    async def stop(self) -> None:
        """Stop following."""
        if self.runner is not None:
            await self.runner.close()
        await asyncio.to_thread(self._thread.stop)
        await asyncio.to_thread(self._notifications.stop)


class NotificationsAfterCommit:
    """What the projector does once it committed a batch: push the new notifications, wake the e-mail deliverer.

    The push goes on the live bus (Redis pub/sub with ``AGENTGRAPH_REDIS_URL``, else this process's bus, which
    this process's API shares); the deliverer (``adapters.notification_delivery``) e-mails through the log
    adapter. Both belong to the projector role: it is the one that knows when a notification is committed.
    """

    def __init__(self, container: Container) -> None:
        settings = container.settings
        self._bus: LiveBus = (
            RedisLiveBus(settings.redis_url, settings.live_channel) if settings.redis_url else container.in_process_bus
        )
        queries = container.notification_queries
        self._push = NotificationPusher(queries, self._bus)
        self._delivery = NotificationDelivery(NotificationDeliverer(container.accounts, queries, LogEmailSender()))

    def __call__(self, batch: list[EventEnvelope]) -> None:
        self._push(batch)
        self._delivery.wake()

    def start(self) -> None:
        """Start the deliverer's rounds."""
        self._delivery.start()

    def stop(self) -> None:
        """Stop the deliverer and release the bus."""
        self._delivery.stop()
        self._bus.close()


class RelayService:
    """The relay (event stores -> Kafka) in a background thread; distributed mode only."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        if not (settings.database_url and settings.kafka_bootstrap):
            raise RoleError(RELAY_NEEDS)
        self.relay = Relay(
            settings.database_url,
            container.event_logs,
            settings.kafka_bootstrap,
            settings.kafka_topic_prefix,
            settings.kafka_partitions,
        )
        self._thread = BackgroundWorker("relay", self.relay.run)

    @property
    def counters(self) -> RelayCounters:
        """What the relay counts, for the metrics endpoint."""
        return RelayCounters(self.relay.published, self.relay.active)

    async def start(self) -> None:
        """Start relaying (waits in the background to become the active relay)."""
        self._thread.start()

    async def stop(self) -> None:
        """Stop relaying; another relay takes over."""
        await asyncio.to_thread(self._thread.stop)


class NotifierService:
    """Executions log -> live updates through Redis pub/sub to every API process (``api.live_updates``)."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        if not settings.redis_url:
            raise RoleError(NOTIFIER_NEEDS)
        self.bus = RedisLiveBus(settings.redis_url, settings.live_channel)
        self.notifier = Notifier(EventLog("executions", container.executions), self.bus)

    async def start(self) -> None:
        """Follow the executions log from its head."""
        await self.notifier.start()

    async def stop(self) -> None:
        """Stop following."""
        await self.notifier.stop()
        self.bus.close()


class SchedulerService:
    """The scheduler (``adapters.scheduler``) in a background thread: active at once embedded, else once it holds
    the PostgreSQL lock; ``clock`` is what time it is (the wall clock; a test's own in in-process tests)."""

    def __init__(self, container: Container, clock: Clock = wall_clock) -> None:
        firing = ScheduleFiring(
            container.schedules,
            container.graphs,
            container.executions,
            container.blocks.get,
            run_secrets=container.run_inputs,
            schedule_secrets=container.schedule_secrets,
        )
        self.scheduler = Scheduler(firing, container.event_logs, dsn=container.settings.database_url, clock=clock)
        self._thread = BackgroundWorker("scheduler", self.scheduler.run)

    async def start(self) -> None:
        """Start (waits in the background to become the active scheduler)."""
        self._thread.start()

    async def stop(self) -> None:
        """Stop firing; a standby takes over (or the next start resumes after the last recorded tick)."""
        await asyncio.to_thread(self._thread.stop)


@dataclass(frozen=True)
class Role:
    """One row of the role table."""

    name: str
    needs: frozenset[Part]
    """The parts the role uses whatever the deployment."""
    needs_without_kafka: frozenset[Part] = frozenset()
    """Parts it needs on top when no Kafka feeds it (it then reads the event stores' logs)."""
    service: Callable[[Container], Service] | None = None
    """What it starts (None for the API: uvicorn serves it)."""
    needs_kafka: bool = False
    """Only meaningful in distributed mode with Kafka."""
    needs_redis: bool = False
    """Only meaningful with Redis (``AGENTGRAPH_REDIS_URL``)."""
    serves: frozenset[str] = frozenset()
    """The API sides it serves (``api.app.SIDES``): commands, queries, both, or none (a worker role)."""
    by_default: bool = True
    """Run when no role is asked for (the API halves are not: ``api`` is both)."""


COMMANDS = "commands"
QUERIES = "queries"

API_COMMANDS_NEEDS = frozenset(
    {Part.STORES, Part.LOGS, Part.READ_STORE, Part.JWT, Part.BLOCK_WORKERS, Part.REDIS, Part.SECRETS}
)
"""The command side: the aggregates (every store: LOGS holds accounts, for the API-key commands, and the
heads ``/metrics`` reports), block workers (``POST /api/blocks/{id}/execute``), and the read store: creating
an API key answers once its read model shows it (the external API finds keys there, by head), a stop answers
the run as the read model shows it, and each external-API command checks its key's head there too. The master
encryption keys (``Part.SECRETS``): storing credentials seals them, erasing a user's secrets shreds a data key."""
API_QUERIES_NEEDS = frozenset({Part.READ_STORE, Part.JWT, Part.REDIS, Part.ACCOUNTS, Part.RUN_EVENTS})
"""The query side: the read models, and two stores read for what no read model holds: accounts (an API
key's current state, ``api.api_key_auth``) and executions (a run's replay for ``/ws`` and SSE, and the
in-process notifier without Redis). No graphs store, no block workers."""


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("api", API_COMMANDS_NEEDS | API_QUERIES_NEEDS, serves=frozenset({COMMANDS, QUERIES})),
        Role("api-commands", API_COMMANDS_NEEDS, serves=frozenset({COMMANDS}), by_default=False),
        Role("api-queries", API_QUERIES_NEEDS, serves=frozenset({QUERIES}), by_default=False),
        Role("relay", frozenset({Part.LOGS}), service=RelayService, needs_kafka=True),
        # ACCOUNTS: the notifications' e-mail deliverer records what it sent (application.notifications)
        Role(
            "projector", frozenset({Part.READ_STORE, Part.ACCOUNTS}), frozenset({Part.LOGS}), service=ProjectionService
        ),
        # SECRETS: a node's credentials are opened for its block run (the user's own, from the accounts store)
        Role("executor", frozenset({Part.STORES, Part.BLOCK_WORKERS, Part.SECRETS}), service=ExecutorService),
        Role("notifier", frozenset({Part.STORES}), service=NotifierService, needs_redis=True),
        # LOGS: every store (schedules, graphs, executions; accounts for credentials); SECRETS: secret inputs
        Role("scheduler", frozenset({Part.LOGS, Part.SECRETS}), service=SchedulerService),
    )
}
"""Every role this build runs, in start order (services stop in reverse)."""

REFUSED_ROLES: dict[str, str] = {}
"""Roles of the design this build does not run yet, with the reason."""

RELAY_NEEDS = "the relay needs AGENTGRAPH_DATABASE_URL and AGENTGRAPH_KAFKA_BOOTSTRAP"
NOTIFIER_NEEDS = "the notifier role needs AGENTGRAPH_REDIS_URL (without Redis every API process runs its own notifier)"


class RoleError(ValueError):
    """Roles this process cannot run (unknown, not yet built, or missing their infrastructure)."""


def choose_roles(requested: str | None, settings: Settings) -> list[str]:
    """The roles to run, in start order, from ``--role`` (comma-separated; None means all that apply).

    All roles by default, except the relay without Kafka and PostgreSQL (the
    projector then reads the logs directly); asked for explicitly, it is an error.
    """
    distributed_kafka = bool(settings.database_url and settings.kafka_bootstrap)
    redis = bool(settings.redis_url)
    if not requested:
        return [
            name
            for name, role in ROLES.items()
            if role.by_default and (distributed_kafka or not role.needs_kafka) and (redis or not role.needs_redis)
        ]
    names = {part.strip() for part in requested.split(",") if part.strip()}
    refused = sorted(names & REFUSED_ROLES.keys())
    if refused:
        raise RoleError(f"{REFUSED_ROLES[refused[0]]}; this build runs: {', '.join(ROLES)}")
    unknown = names - ROLES.keys()
    if unknown:
        raise RoleError(f"unknown role(s) {', '.join(sorted(unknown))}; choose from {', '.join(ROLES)}")
    if not distributed_kafka and any(ROLES[name].needs_kafka for name in names):
        raise RoleError(RELAY_NEEDS)
    if not redis and any(ROLES[name].needs_redis for name in names):
        raise RoleError(NOTIFIER_NEEDS)
    if api_sides(names) == ROLES["api"].serves:
        names = (names - {name for name, role in ROLES.items() if role.serves}) | {"api"}  # both halves: api
    return [name for name in ROLES if name in names]


def api_sides(roles: Collection[str]) -> frozenset[str]:
    """The API sides ``roles`` serve (empty: no API in this process)."""
    return frozenset().union(*(ROLES[name].serves for name in roles))


def api_role(sides: Collection[str]) -> str:
    """The API role that serves exactly ``sides``."""
    return next(name for name, role in ROLES.items() if role.serves == frozenset(sides))


def parts_for(roles: Collection[str], settings: Settings) -> frozenset[Part]:
    """The union of what ``roles`` need under ``settings``."""
    parts: set[Part] = set()
    for name in roles:
        role = ROLES[name]
        parts |= role.needs
        if not settings.kafka_bootstrap:
            parts |= role.needs_without_kafka
    return frozenset(parts)


def build_for(roles: Collection[str], settings: Settings, blocks: BlockRegistry | None = None) -> Container:
    """The container ``roles`` need: embedded it makes its tables, distributed it checks them.

    Distributed processes never create tables (``agentgraph db init`` does,
    once); raises ``TablesMissingError`` when they are not there yet, and
    ``JWTKeyError`` when the API role has no usable key.
    """
    container = build_container(settings, blocks, parts=parts_for(roles, settings), create_tables=settings.embedded)
    if not settings.embedded:
        try:
            check_tables(container)
        except BaseException:
            container.close()
            raise
    return container


@asynccontextmanager
async def run_services(
    container: Container, roles: Collection[str], observer: ExecutionObserver | None = None
) -> AsyncIterator[PipelineMetrics | None]:
    """Start the services of ``roles`` in table order; stop them in reverse on exit.

    ``observer`` is told when the executor started here ends runs and nodes (the app's metrics).

    Yields the pipeline metrics with the counters of the relay and projector
    started here, when the container can report them (the API's parts).
    """
    services: dict[str, Service] = {}
    try:
        for name, role in ROLES.items():
            if name in roles and role.service is not None:
                services[name] = role.service(container)
                await services[name].start()
        projector, executor = services.get("projector"), services.get("executor")
        if observer is not None and isinstance(executor, ExecutorService):
            executor.executor.observer = observer
        if isinstance(projector, ProjectionService) and projector.runner and isinstance(executor, ExecutorService):
            # both in this process: a long run waits while the read models fall behind (Executor.read_lag)
            executor.executor.read_lag = functools.partial(projector.runner.lag, "executions")
        metrics = None
        if {Part.LOGS, Part.READ_STORE} <= container.parts:
            relay = services.get("relay")
            metrics = build_pipeline_metrics(
                container,
                relay if isinstance(relay, RelayService) else None,
                projector if isinstance(projector, ProjectionService) else None,
                executor if isinstance(executor, ExecutorService) else None,
            )
        yield metrics
    finally:
        for name, service in reversed(services.items()):
            try:  # one service failing to stop must not leave the others running
                await service.stop()
            except Exception:
                log.exception("stopping the %s service failed", name)


def build_pipeline_metrics(
    container: Container,
    relay: RelayService | None = None,
    projector: ProjectionService | None = None,
    executor: ExecutorService | None = None,
) -> PipelineMetrics:
    """The pipeline's figures as this process sees them, with the counters of the services it runs."""
    settings = container.settings
    positions: Callable[[], dict[str, int]] | None = None
    if settings.database_url and settings.kafka_bootstrap:
        # the relay records its position in PostgreSQL, so any process can read it
        positions = functools.partial(relay_position, settings.database_url)
    return PipelineMetrics(
        container.read_store,
        all_projections(),
        container.event_logs,
        mode="embedded" if settings.embedded else "distributed",
        relay_positions=positions,
        relay=relay.counters if relay is not None else None,
        projector=projector.counters if projector is not None else None,
        writer=executor.executor.writer.stats if executor is not None else None,
    )
