"""A poison event parks on the distributed path too: PostgreSQL event store -> relay -> Kafka -> projector."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eventsourcing.utils import get_topic
from typer.testing import CliRunner

import projections.graphs.projection as graphs_projection
from adapters.background_worker import BackgroundWorker
from adapters.event_log import reader
from adapters.kafka_projector import KafkaProjector
from adapters.kafka_relay import Relay
from adapters.kafka_topics import partition_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.bootstrap import ExecutorService, RelayService
from api.cli import app
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from domain.event_types import type_name
from domain.execution import GraphExecution
from domain.graph import Graph
from domain.not_found import ExecutionNotFoundError, GraphNotFoundError
from projections.envelope import EventEnvelope
from projections.registry import all_projections, projection_named
from projections.store import ReadModelTx
from tests import poison
from tests.read_models import table_rows
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

PARTITIONS = 3
FIRST_POLL_SECONDS = 120.0
"""The projector's first group join (Tansu is slow at it); afterwards reads are prompt."""
WITHIN_A_SECOND = 1.0


@pytest.fixture
def settings(postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path) -> Settings:
    return Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        AGENTGRAPH_KAFKA_BOOTSTRAP=kafka_bootstrap,
        AGENTGRAPH_KAFKA_TOPIC_PREFIX=kafka_topic_prefix.rstrip("."),
        AGENTGRAPH_KAFKA_PARTITIONS=PARTITIONS,
        JWT_VERIFY_KEY="poison-" + "k" * 40,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings)
    yield built
    built.close()


@contextmanager
def _running(container: Container) -> Iterator[None]:
    """The relay and the Kafka projector, each in a worker thread as their roles run them."""
    settings = container.settings
    assert settings.database_url and settings.kafka_bootstrap
    relay = Relay(
        settings.database_url, container.event_logs, settings.kafka_bootstrap, settings.kafka_topic_prefix, PARTITIONS
    )
    projector = KafkaProjector(
        container.read_store,
        all_projections(),
        settings.kafka_bootstrap,
        settings.kafka_topic_prefix,
        sorted(container.event_logs),
        consumer_config={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000},
    )
    workers = [BackgroundWorker("relay", relay.run), BackgroundWorker("projector", projector.run)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.stop()


def _readable(read: Callable[[], object], timeout: float) -> float:
    """Seconds until ``read`` stops raising not-found (fails after ``timeout``)."""
    started = time.monotonic()
    while True:
        try:
            read()
            return time.monotonic() - started
        except (GraphNotFoundError, ExecutionNotFoundError):
            assert time.monotonic() - started < timeout, "not readable in time"
            time.sleep(0.02)


def _bobs_graph_and_run(container: Container, name: str) -> Callable[[], object]:
    graph_id = str(container.graphs.create_graph("bob", GraphPayload.model_validate(calculator(name))).aggregate_id)
    run = container.executions.request_execution(
        user_id="bob",
        graph_id=graph_id,
        graph_version=1,
        graph=container.graphs.graph_for_run("bob", graph_id, 1),
        lookup=container.blocks.get,
        inputs={"Input": 1},
    )
    queries, runs = container.graph_queries, container.run_queries
    return lambda: (queries.get_graph("bob", graph_id), runs.get_run("bob", str(run.aggregate_id)))


def test_the_kafka_projector_parks_poison_events_and_every_other_user_reads_on(
    container: Container, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph_id = container.graphs.create_graph("mallory", GraphPayload.model_validate(calculator("m"))).aggregate_id
    # each value within the JSON limits, the event past one Kafka message: it must not stop the relay
    too_large = container.executions.request_execution(
        user_id="mallory",
        graph_id=str(graph_id),
        graph_version=1,
        graph=container.graphs.graph_for_run("mallory", str(graph_id), 1),
        lookup=container.blocks.get,
        inputs={"Input": ["x" * 400_000] * 3},
    ).aggregate_id
    poison.graph_version_without_content(container.graphs, graph_id, 2)
    run_id = poison.run_nested_too_deep(container.executions, "mallory", str(graph_id))
    first = _bobs_graph_and_run(container, "bob's first")

    with _running(container):
        _readable(first, FIRST_POLL_SECONDS)  # behind the poison in the same logs
        took = _readable(_bobs_graph_and_run(container, "bob's second"), FIRST_POLL_SECONDS)
        assert took < WITHIN_A_SECOND

        monkeypatch.setenv("AGENTGRAPH_DATABASE_URL", str(settings.database_url))
        monkeypatch.setenv("AGENTGRAPH_KAFKA_BOOTSTRAP", str(settings.kafka_bootstrap))
        monkeypatch.setenv("AGENTGRAPH_KAFKA_TOPIC_PREFIX", settings.kafka_topic_prefix)
        monkeypatch.setenv("AGENTGRAPH_KAFKA_PARTITIONS", str(PARTITIONS))
        listed = CliRunner().invoke(app, ["projections", "dead-letters", "--json"])
        assert listed.exit_code == 0, listed.output
        parked = {(d["projection"], d["aggregate_id"], d["event_type"]): d for d in json.loads(listed.stdout)}
        version_2 = parked[("graphs", str(graph_id), type_name(Graph.VersionCreated))]
        assert "KeyError" in version_2["error"] and version_2["attempts"] >= 3
        requested = parked[("executions", str(run_id), type_name(GraphExecution.Requested))]
        assert "does not decode" in requested["error"]  # the relay marked it, the projector parked it
        oversized = parked[("executions", str(too_large), type_name(GraphExecution.Requested))]
        assert "over the 1,000,000 bytes of one Kafka message" in oversized["error"]
        assert (
            parked[("executions", str(run_id), type_name(GraphExecution.Queued))]["held_behind"]
            == (requested["log_position"])
        )
        assert container.graph_queries.get_graph("mallory", str(graph_id)).parked_events == 1
        # a rebuild leaves the parked events out, as the live tables do (so a retry still applies them once)
        rebuild_projection(
            container.read_store,
            projection_named("graphs"),
            reader(container.event_logs),
            partitions=Partitioning(PARTITIONS, lambda key: partition_for(key, PARTITIONS)),
        )
        assert container.graph_queries.get_graph("mallory", str(graph_id)).version == 1

        # a release that reads a version without content as an empty graph: the retry applies it once
        handlers = graphs_projection._HANDLERS._by_name
        original = handlers[type_name(Graph.VersionCreated)]

        def fixed(tx: ReadModelTx, event: EventEnvelope) -> None:
            original(tx, dataclasses.replace(event, data={"content": {}, **event.data}))

        monkeypatch.setitem(handlers, type_name(Graph.VersionCreated), fixed)
        retried = CliRunner().invoke(app, ["projections", "retry", str(version_2["id"])])
        assert retried.exit_code == 0, retried.output
        assert "1 applied, 0 still failing" in retried.stdout
        assert "0 applied" in CliRunner().invoke(app, ["projections", "retry", str(version_2["id"])]).stdout
    graph = container.graph_queries.get_graph("mallory", str(graph_id))
    assert graph.version == 2 and graph.parked_events is None
    row = next(r for r in table_rows(container.read_store, "graphs", "graph_id") if r["graph_id"] == str(graph_id))
    assert (row["latest_version"], row["change_count"]) == (2, 2)


async def test_the_executor_fails_a_run_it_cannot_load_and_runs_the_others(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    container = build_container(settings)
    relay, executor = RelayService(container), ExecutorService(container)
    graph_id = str(container.graphs.create_graph("mallory", GraphPayload.model_validate(calculator("m"))).aggregate_id)
    unloadable = poison.run_nested_too_deep(container.executions, "mallory", graph_id)
    stop_request = poison.stop_request_without_run(container.executions)
    try:
        await relay.start()
        await executor.start()
        bobs = str(container.graphs.create_graph("bob", GraphPayload.model_validate(calculator("b"))).aggregate_id)
        run = container.executions.request_execution(
            user_id="bob",
            graph_id=bobs,
            graph_version=1,
            graph=container.graphs.graph_for_run("bob", bobs, 1),
            lookup=container.blocks.get,
            inputs={"Input": 8},
        ).aggregate_id
        deadline = time.monotonic() + 90
        while not (await asyncio.to_thread(container.executions.peek, "bob", run)).is_finished:
            assert time.monotonic() < deadline, "bob's run did not finish"
            await asyncio.sleep(0.1)
        finished = await asyncio.to_thread(container.executions.load, run)
        assert finished is not None and finished.status == "COMPLETED"
        while True:
            last = container.executions.recorder.select_events(unloadable, desc=True, limit=1)[0]
            if last.topic == get_topic(GraphExecution.Failed):
                break
            assert time.monotonic() < deadline, "the unloadable run was not failed"
            await asyncio.sleep(0.1)
        assert "the run's stored events cannot be loaded" in json.loads(last.state)["error"]
        # the stop request that names no run is passed over, once, by the feed (which goes on)
        while "executor feed passed over" not in caplog.text:
            assert time.monotonic() < deadline, "the feed never reached the stop request " + str(stop_request)
            await asyncio.sleep(0.1)
        assert caplog.text.count("executor feed passed over") == 1
    finally:
        await executor.stop()
        await relay.stop()
        container.close()
