"""Charging's cost to the executor: node executions per second with credits on and off, in the same run.

Embedded (SQLite) and, with a PostgreSQL server at hand, on PostgreSQL (the
charges in the same transaction as the run's events). Sizes are small by
default; ``AGENTGRAPH_BENCH_RUNS`` / ``AGENTGRAPH_BENCH_NODES`` raise them.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from adapters.settings import Settings
from api.bootstrap import ExecutorService
from api.composition import build_container
from domain.agent_format import GraphPayload
from domain.block_costs import PLATFORM_CREDENTIALS

pytestmark = pytest.mark.benchmark

OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
RUNS = int(os.environ.get("AGENTGRAPH_BENCH_RUNS", "20"))
NODES = int(os.environ.get("AGENTGRAPH_BENCH_NODES", "50"))
UNUSED = {"credentials": {"id": PLATFORM_CREDENTIALS["openai"].id}}  # free: OUTPUT has no cost entry


async def _throughput(settings: Settings) -> float:
    container = build_container(settings)
    service = ExecutorService(container)
    try:
        await service.start()
        if settings.credits_enabled:
            container.credits.grant("bench", 1_000_000, "bench-grant")
        graph = {
            "name": "wide",
            "nodes": [
                {"id": f"n{i}", "block_id": OUTPUT, "input_default": {"name": f"o{i}", "value": i}}
                for i in range(NODES)
            ],
            "links": [],
        }
        graph_id = str(container.graphs.create_graph("bench", GraphPayload.model_validate(graph)).aggregate_id)
        content = container.graphs.graph_for_run("bench", graph_id, 1)
        started = time.perf_counter()
        ids = [
            container.executions.request_execution(
                user_id="bench",
                graph_id=graph_id,
                graph_version=1,
                graph=content,
                lookup=container.blocks.get,
                inputs={},
            ).aggregate_id
            for _ in range(RUNS)
        ]
        while True:
            peeks = [await asyncio.to_thread(container.executions.peek, "bench", i) for i in ids]
            if all(p.is_finished for p in peeks):
                break
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
        return RUNS * NODES / elapsed
    finally:
        await service.stop()
        container.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_credits_overhead(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    dsn = request.getfixturevalue("postgres_dsn") if store == "postgres" else None
    figures = {}
    for enabled in (False, True):
        settings = Settings(
            AGENTGRAPH_DATABASE_URL=dsn,
            JWT_VERIFY_KEY="bench-" + "k" * 40,
            AGENTGRAPH_DATA_DIR=tmp_path / f"data-{enabled}",
            AGENTGRAPH_CREDITS_ENABLED=enabled,
            AGENTGRAPH_STARTING_CREDITS=0,
        )
        figures[enabled] = await _throughput(settings)
    ratio = figures[True] / figures[False]
    print(
        f"\n[{store}] {RUNS} runs x {NODES} nodes: credits off {figures[False]:,.0f} node executions/s, "
        f"credits on {figures[True]:,.0f}/s, on/off = {ratio:.2f}"
    )
    assert figures[True] > 0
