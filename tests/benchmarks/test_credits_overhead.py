"""Charging's cost to the executor: node executions per second with credits off and on, rounds alternated.

Embedded (SQLite) and, with a PostgreSQL server at hand, on PostgreSQL (the
charges in the same transaction as the run's events). Rounds alternate
off, on, off, on... on the same workload, each on a fresh store (a new data
directory, a new database), after one warm-up round that is not counted;
each on/off pair gives a ratio, and the report is every round's figure,
the median ratio, the ratio of the means, and the spread (min-max over the pairs).

The workload: runs of one user, each a graph of ``NODES`` nodes, one in
``LLM_EVERY`` of them an LLM block on the platform's OpenAI credentials
(gpt-4o-mini: 1 credit a node) against the local fake OpenAI server, the
rest free OUTPUT blocks; so charges are block charges (with their
metadata) and the execution counter, not the counter alone. The LLM nodes
are not pure: each waits for its start (and, credits on, its charge) to be
durable before it runs, as in production. ``AGENTGRAPH_BENCH_RUNS`` /
``_NODES`` / ``_PAIRS`` raise the sizes.

The pools' figures (psycopg_pool's stats of the executions and accounts
stores) are printed for the on rounds: waits for a connection, and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from api.bootstrap import ExecutorService
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from domain.block_costs import PLATFORM_CREDENTIALS
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fixtures.services import fresh_database

pytestmark = pytest.mark.benchmark

OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
OPENAI = PLATFORM_CREDENTIALS["openai"]
PLATFORM_OPENAI = {"id": OPENAI.id, "provider": "openai", "type": "api_key", "title": OPENAI.title}
RUNS = int(os.environ.get("AGENTGRAPH_BENCH_RUNS", "20"))
NODES = int(os.environ.get("AGENTGRAPH_BENCH_NODES", "50"))
PAIRS = int(os.environ.get("AGENTGRAPH_BENCH_PAIRS", "3"))
LLM_EVERY = 10


def _graph() -> dict[str, Any]:
    nodes = []
    for i in range(NODES):
        if i % LLM_EVERY == LLM_EVERY - 1:
            defaults = {"prompt": f"q{i}", "model": "gpt-4o-mini", "credentials": PLATFORM_OPENAI}
            nodes.append({"id": f"n{i}", "block_id": LLM, "input_default": defaults})
        else:
            nodes.append({"id": f"n{i}", "block_id": OUTPUT, "input_default": {"name": f"o{i}", "value": i}})
    return {"name": "wide", "nodes": nodes, "links": []}


def _pool_stats(container: Container) -> str:
    parts = []
    for name, app in (("executions", container.executions), ("accounts", container.accounts)):
        datastore = getattr(app.recorder, "datastore", None)
        pool = getattr(datastore, "pool", None)
        if not hasattr(pool, "get_stats"):
            continue  # SQLite: no psycopg pool
        stats = pool.get_stats()
        parts.append(
            f"{name}: {stats.get('requests_num', 0)} requests, {stats.get('requests_queued', 0)} queued, "
            f"{stats.get('requests_wait_ms', 0)} ms waited, {stats.get('requests_errors', 0)} errors, "
            f"{stats.get('pool_size', 0)} connections"
        )
    return "; ".join(parts)


async def _round(settings: Settings) -> tuple[float, str]:
    """Node executions per second of one round, and the pools' figures."""
    container = build_container(settings)
    service = ExecutorService(container)
    try:
        await service.start()
        if settings.credits_enabled:
            container.credits.grant("bench", 1_000_000, "bench-grant")
        payload = GraphPayload.model_validate(_graph())
        graph_id = str(container.graphs.create_graph("bench", payload).aggregate_id)
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
        assert all(p.status == "COMPLETED" for p in peeks), [p.status for p in peeks]
        return RUNS * NODES / elapsed, _pool_stats(container)
    finally:
        await service.stop()
        container.close()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_credits_overhead(
    store: str, tmp_path: Path, request: pytest.FixtureRequest, fake_openai: FakeOpenAIServer
) -> None:
    server: str | None = request.getfixturevalue("postgres_server") if store == "postgres" else None
    schedule = [False] + [enabled for _ in range(PAIRS) for enabled in (False, True)]  # the first: warm-up
    figures: dict[bool, list[float]] = {False: [], True: []}
    lines = []
    for number, enabled in enumerate(schedule):
        with contextlib.ExitStack() as stack:
            dsn = stack.enter_context(fresh_database(server)) if server else None
            settings = Settings(
                AGENTGRAPH_DATABASE_URL=dsn,
                JWT_VERIFY_KEY="bench-" + "k" * 40,
                AGENTGRAPH_DATA_DIR=tmp_path / f"data-{number}",
                AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
                AGENTGRAPH_LLM_API_KEY="sk-platform",
                AGENTGRAPH_CREDITS_ENABLED=enabled,
                AGENTGRAPH_STARTING_CREDITS=0,
            )
            rate, pools = await _round(settings)
        label = "warm-up" if number == 0 else ("on" if enabled else "off")
        lines.append(f"  round {number} {label:>7}: {rate:,.0f} node executions/s" + (f"  [{pools}]" if pools else ""))
        if number:
            figures[enabled].append(rate)
    ratios = [on / off for off, on in zip(figures[False], figures[True], strict=True)]
    print(
        f"\n[{store}] {RUNS} runs x {NODES} nodes ({NODES // LLM_EVERY} LLM nodes a run), {PAIRS} off/on pairs:\n"
        + "\n".join(lines)
        + f"\n  off: mean {statistics.mean(figures[False]):,.0f}/s, on: mean {statistics.mean(figures[True]):,.0f}/s"
        + f"\n  on/off: median {statistics.median(ratios):.2f}, ratio of means "
        + f"{statistics.mean(figures[True]) / statistics.mean(figures[False]):.2f}, pairs "
        + f"{', '.join(f'{r:.2f}' for r in ratios)} (spread {min(ratios):.2f}-{max(ratios):.2f})"
    )
    assert all(rate > 0 for rates in figures.values() for rate in rates)
