"""Executor throughput, group commit against one event per transaction.

Run on demand (not part of the default test run)::

    pytest -o addopts="" tests/benchmarks -s

Each scenario is measured twice in the same run: with group commit (the
executor as it ships) and with the baseline writer that commits every event
in its own transaction. The executor is started first; the clock starts when
the runs are requested and stops when the last run's ``Completed`` event is
in the store (checked after each of the executor's commits). The baseline
uses fewer nodes (it is ~30x slower); the comparison is of rates
(events/s), not of totals. Events are counted in the store once the clock
has stopped, so every event written is counted.

The assertions are ratios measured in the same run (group commit at least
10x the baseline's events/s), never absolute rates: those depend on the
machine and on what else runs on it, so they are printed, not asserted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.utils import get_topic

from adapters.settings import Settings
from api.bootstrap import ExecutorService
from api.composition import build_container
from application.execution_writer import GroupCommitWriter
from application.executor import ExecutorConfig
from domain.agent_format import GraphPayload
from domain.execution import GraphExecution

pytestmark = pytest.mark.benchmark

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
COMPLETED = [get_topic(GraphExecution.Completed)]
RESULTS: list[str] = []


@dataclass
class Measured:
    """One measured scenario."""

    label: str
    runs: int
    nodes: int
    seconds: float
    events: int

    @property
    def node_rate(self) -> float:
        return self.runs * self.nodes / self.seconds

    @property
    def event_rate(self) -> float:
        return self.events / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<44} {self.runs:>4} x {self.nodes:<5} {self.seconds:7.2f} s "
            f"{self.node_rate:9.0f} node execs/s {self.event_rate:9.0f} events/s"
        )


def _chain(nodes: int) -> GraphPayload:
    """An input followed by ``nodes - 1`` Calculator additions in a chain."""
    spec: list[dict[str, Any]] = [{"id": "in", "block_id": INPUT, "input_default": {"name": "x"}}]
    links: list[dict[str, Any]] = []
    previous, pin = "in", "result"
    for index in range(nodes - 1):
        node_id = f"c{index}"
        spec.append({"id": node_id, "block_id": CALCULATOR, "input_default": {"operation": "Add", "b": 1}})
        links.append({"source_id": previous, "source_name": pin, "sink_id": node_id, "sink_name": "a"})
        previous, pin = node_id, "result"
    return GraphPayload.model_validate({"name": f"chain of {nodes}", "nodes": spec, "links": links})


async def _warm_up(settings: Settings) -> None:
    """One short run first, unrecorded: imports, caches and first-call costs are not part of any figure."""
    await _measure("warm-up", settings, 1, 50, one_per_txn=False, record=False)


async def _measure(
    label: str, settings: Settings, runs: int, nodes: int, one_per_txn: bool, record: bool = True
) -> Measured:
    container = build_container(settings)
    try:
        graph = container.graphs.create_graph("bench", _chain(nodes), fresh_ids=False).graph
        content = container.graphs.graph_for_run("bench", graph.id, 1)
        writer = GroupCommitWriter(container.executions, one_event_per_transaction=one_per_txn)
        service = ExecutorService(container, ExecutorConfig(max_running_per_user=runs), writer)
        await service.start()
        await asyncio.sleep(0.1)  # started and idle: its startup is not part of the figure
        loop = asyncio.get_running_loop()
        saved = asyncio.Event()
        container.executions.add_listener(lambda: loop.call_soon_threadsafe(saved.set))
        recorder = container.executions.recorder
        started = time.perf_counter()
        for index in range(runs):
            container.executions.request_execution(
                user_id="bench",
                graph_id=graph.id,
                graph_version=1,
                graph=content,
                lookup=container.blocks.get,
                inputs={"x": index},
            )
        while True:  # checked after each commit of the executor, not on a timer
            await saved.wait()
            saved.clear()
            done = await asyncio.to_thread(recorder.select_notifications, 0, runs + 1, None, COMPLETED)
            if len(done) >= runs:
                break
        seconds = time.perf_counter() - started
        stats = service.executor.writer.stats
        # from the store, not the writer's counter: the saved listener may fire before the writer counts a batch
        events = await asyncio.to_thread(_events_in, recorder)
        assert stats.conflicts == 0 and stats.failures == 0, stats
        # every run's events went through this writer: a smaller count means the figure is wrong
        assert events >= runs * nodes * 4, f"only {events} events written: {stats}"
        await service.stop()
    finally:
        container.close()
    measured = Measured(label, runs, nodes, seconds, events)
    if record:
        RESULTS.append(measured.line())
        print(measured.line())
    return measured


def _events_in(recorder: ApplicationRecorder) -> int:
    """How many events the executions store holds."""
    counted, position = 0, 0
    while batch := recorder.select_notifications(start=position, limit=10_000, inclusive_of_start=False):
        counted += len(batch)
        position = batch[-1].id
    return counted


def _report(title: str, fast: Measured, slow: Measured) -> float:
    ratio = fast.event_rate / slow.event_rate
    line = (
        f"{title}: group commit {fast.event_rate:.0f} events/s "
        f"vs baseline {slow.event_rate:.0f} events/s = {ratio:.1f}x"
    )
    RESULTS.append(line)
    print(line)
    return ratio


@pytest.fixture
def embedded(tmp_path: Path) -> Callable[[str], Settings]:
    return lambda name: Settings(AGENTGRAPH_DATA_DIR=tmp_path / name)


@pytest.fixture
def postgres(postgres_server: str, tmp_path: Path) -> Callable[[str], Settings]:
    import psycopg

    from tests.fixtures.services import dsn_with_dbname

    def make(name: str) -> Settings:
        dbname = f"agentgraph_bench_{name}"
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
            conn.execute(f"CREATE DATABASE {dbname}")
        return Settings(
            AGENTGRAPH_DATABASE_URL=dsn_with_dbname(postgres_server, dbname),
            JWT_VERIFY_KEY="benchmark-" + "k" * 40,
            AGENTGRAPH_DATA_DIR=tmp_path / name,
        )

    return make


async def test_chain_of_1000_pure_nodes_embedded(embedded: Callable[[str], Settings]) -> None:
    await _warm_up(embedded("warm"))
    fast = await _measure("embedded chain, group commit", embedded("fast"), 1, 1000, one_per_txn=False)
    slow = await _measure("embedded chain, one event per transaction", embedded("slow"), 1, 200, one_per_txn=True)
    assert _report("embedded 1,000-node chain", fast, slow) >= 10


async def test_chain_of_1000_pure_nodes_postgres(postgres: Callable[[str], Settings]) -> None:
    await _warm_up(postgres("warm"))
    fast = await _measure("PostgreSQL chain, group commit", postgres("chain_fast"), 1, 1000, one_per_txn=False)
    slow = await _measure(
        "PostgreSQL chain, one event per transaction", postgres("chain_slow"), 1, 200, one_per_txn=True
    )
    assert _report("PostgreSQL 1,000-node chain", fast, slow) >= 10


async def test_50_concurrent_runs_of_a_20_node_graph_postgres(postgres: Callable[[str], Settings]) -> None:
    await _warm_up(postgres("warm"))
    fast = await _measure("PostgreSQL 50 concurrent runs, group commit", postgres("conc_fast"), 50, 20, False)
    slow = await _measure("PostgreSQL 10 concurrent runs, one per transaction", postgres("conc_slow"), 10, 20, True)
    assert _report("PostgreSQL 50 x 20-node runs", fast, slow) >= 10


def test_zz_summary() -> None:
    """Prints every figure of this run together (the tests above ran first)."""
    print("\n" + "\n".join(RESULTS))
