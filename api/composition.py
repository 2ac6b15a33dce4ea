"""The composition root: the one place that builds infrastructure.

``build_container`` turns ``Settings`` into the applications and adapters a
process needs; ``ExecutorService`` wires the executor to its feed. Nothing
else constructs infrastructure; everything else receives it from here.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated
from uuid import UUID

from eventsourcing.application import Application
from fastapi import Depends, Request

from adapters.background_worker import BackgroundWorker
from adapters.event_log import EventLog
from adapters.execution_feed import ExecutionLogFeed
from adapters.jwt_keys import JWTConfig, load_jwt_config
from adapters.kafka_execution_feed import KafkaExecutionFeed
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay, relay_position
from adapters.persistence import event_store_env
from adapters.pipeline_metrics import PipelineMetrics, ProjectorCounters, RelayCounters
from adapters.projection_runner import ProjectionRunner
from adapters.read_store import PostgresReadStore, ReadStore, SQLiteReadStore
from adapters.settings import Settings
from application.agent_block import AgentExecutorBlock
from application.contexts import LATER_CONTEXTS
from application.executions import ExecutionsApplication
from application.executor import Executor, ExecutorConfig
from application.graphs import GraphsApplication
from domain.blocks.base import Block
from domain.blocks.registry import BlockRegistry, all_blocks
from projections.registry import all_projections
from projections.views import ExecutionViews, GraphViews


@dataclass
class Container:
    """Everything a process needs, built once."""

    settings: Settings
    blocks: BlockRegistry
    graphs: GraphsApplication
    executions: ExecutionsApplication
    jwt: JWTConfig
    read_store: ReadStore
    later_contexts: dict[str, Application[UUID]] = field(default_factory=dict)
    """accounts, store, schedules: their event stores exist, their aggregates come later."""

    @property
    def graph_views(self) -> GraphViews:
        """The graphs query side (read models only)."""
        return GraphViews(self.read_store, self.blocks.get)

    @property
    def run_views(self) -> ExecutionViews:
        """The executions query side (read models only)."""
        return ExecutionViews(self.read_store)

    @property
    def event_logs(self) -> dict[str, EventLog]:
        """Each bounded context's log, by context name."""
        logs = {"graphs": EventLog("graphs", self.graphs), "executions": EventLog("executions", self.executions)}
        logs.update({context: EventLog(context, app) for context, app in self.later_contexts.items()})
        return logs

    def close(self) -> None:
        """Release database connections."""
        self.graphs.close()
        self.executions.close()
        for app in self.later_contexts.values():
            app.close()
        self.read_store.close()


def build_container(
    settings: Settings | None = None, blocks: BlockRegistry | None = None, *, create_tables: bool = True
) -> Container:
    """Wire the applications to the configured persistence (``blocks`` overrides the library).

    ``create_tables=False`` is how distributed workers start: the tables are
    made once by ``agentgraph db init``, because several processes creating
    them at the same first start can collide in PostgreSQL's catalog.
    """
    settings = settings or Settings()
    blocks = blocks or build_block_registry(settings)
    return Container(
        settings=settings,
        blocks=blocks,
        graphs=GraphsApplication(event_store_env(settings, "graphs", create_table=create_tables), lookup=blocks.get),
        executions=ExecutionsApplication(event_store_env(settings, "executions", create_table=create_tables)),
        jwt=load_jwt_config(settings),
        read_store=build_read_store(settings, create_tables=create_tables),
        # nothing writes to these yet: one pooled connection each is plenty
        later_contexts={
            context: app_class(event_store_env(settings, context, create_table=create_tables, pool_size=1))
            for context, app_class in LATER_CONTEXTS.items()
        },
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


class TablesMissingError(RuntimeError):
    """A distributed worker started before ``agentgraph db init``."""


def check_tables(container: Container) -> None:
    """Fail clearly when the event or read-model tables do not exist yet."""
    missing: list[str] = []
    for context, event_log in container.event_logs.items():
        try:
            event_log.head()
        except Exception:
            missing.append(f"{context}_events")
    try:
        container.read_store.positions("graphs")
    except Exception:
        missing.append("read.projection_positions")
    if missing:
        raise TablesMissingError(f"tables missing ({', '.join(missing)}): run `agentgraph db init` first")


def build_block_registry(settings: Settings) -> BlockRegistry:
    """The block library this process offers: the pure blocks, sub-agents, network blocks."""
    blocks: list[Block] = [*all_blocks(), AgentExecutorBlock()]
    blocks.extend(_network_blocks(settings))
    return BlockRegistry(blocks)


def _network_blocks(settings: Settings) -> list[Block]:
    try:
        from adapters.blocks.http import HttpPolicy, http_blocks
        from adapters.blocks.llm import LLMConfig, llm_blocks
    except ImportError:  # pragma: no cover - during development of those modules
        return []
    return [
        *llm_blocks(LLMConfig(base_url=settings.llm_base_url, api_key=settings.llm_api_key)),
        *http_blocks(HttpPolicy(allow_private_networks=settings.http_allow_private_networks)),
    ]


class ExecutorService:
    """The executor fed from the executions log, started and stopped together."""

    def __init__(self, container: Container, config: ExecutorConfig | None = None) -> None:
        settings = container.settings
        self.executor = Executor(
            container.executions,
            container.graphs,
            container.blocks.get,
            config
            or ExecutorConfig(
                max_running_per_user=settings.max_running_per_user,
                node_timeout_seconds=settings.node_timeout_seconds,
            ),
        )
        self.feed: ExecutionLogFeed | KafkaExecutionFeed
        if settings.kafka_bootstrap:
            self.feed = KafkaExecutionFeed(
                container.executions,
                self.executor,
                settings.kafka_bootstrap,
                settings.kafka_topic_prefix,
                settings.kafka_partitions,
                consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
            )
        else:
            self.feed = ExecutionLogFeed(container.executions, self.executor)

    async def start(self) -> None:
        """Start writing, recover unfinished runs, then follow the log."""
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
                sorted(container.event_logs),
                consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
            )
        else:
            self.runner = ProjectionRunner(container.read_store, all_projections(), container.event_logs)
        self._thread = BackgroundWorker("projector", self.kafka.run if self.kafka else None)

    @property
    def counters(self) -> ProjectorCounters:
        """What the projector counts, for the metrics endpoint."""
        if self.kafka is not None:
            return ProjectorCounters("kafka", self.kafka.received, self.kafka.applied)
        assert self.runner is not None
        return ProjectorCounters("event_store", self.runner.received, self.runner.projected)

    async def start(self) -> None:
        """Catch up and follow the logs (or the topics)."""
        if self.runner is not None:
            await self.runner.start()
        self._thread.start()

    async def stop(self) -> None:
        """Stop following."""
        if self.runner is not None:
            await self.runner.close()
        await asyncio.to_thread(self._thread.stop)


class RelayService:
    """The relay (event stores -> Kafka) in a background thread; distributed mode only."""

    def __init__(self, container: Container) -> None:
        settings = container.settings
        if not (settings.database_url and settings.kafka_bootstrap):
            raise RuntimeError("the relay needs AGENTGRAPH_DATABASE_URL and AGENTGRAPH_KAFKA_BOOTSTRAP")
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


def build_pipeline_metrics(
    container: Container, relay: RelayService | None = None, projector: ProjectionService | None = None
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
    )


def get_container(request: Request) -> Container:
    """FastAPI dependency: the container of the running app."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_pipeline_metrics(request: Request) -> PipelineMetrics:
    """FastAPI dependency: the running app's pipeline metrics (with its relay and projector counters)."""
    metrics: PipelineMetrics = request.app.state.pipeline_metrics
    return metrics


PipelineMetricsDep = Annotated[PipelineMetrics, Depends(get_pipeline_metrics)]
