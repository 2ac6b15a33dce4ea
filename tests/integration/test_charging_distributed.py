"""Charging in the distributed mode: PostgreSQL, the relay and the executor on Kafka, top-ups from the API.

The story (the issue's concurrency check): 50 runs of one user start at once
with a balance that pays for only some of them, while the API tops the
balance up three times during the runs (each top-up writes the ledger the
executor holds in memory: the conflict path). Afterwards:

- the balance never went below zero by more than one node's cost (every
  transaction's running balance);
- the USAGE transactions sum to the costs the runs' stats report;
- no top-up was lost: final balance = starting grant + top-ups - usage,
  and the top-ups paid for more runs.

The API and the executor each have their own container (stores, caches,
pools), as two processes would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import pytest

from adapters.settings import Settings
from api.bootstrap import ExecutorService, RelayService
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from domain.block_costs import PLATFORM_CREDENTIALS
from domain.credit_ledger import CreditLedger
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.integration

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
OPENAI = PLATFORM_CREDENTIALS["openai"]
PLATFORM_OPENAI = {"id": OPENAI.id, "provider": "openai", "type": "api_key", "title": OPENAI.title}
RUNS = 50
RUNNING = 10  # runs of the user at once: the 50 go in waves, so top-ups land while many still wait
NODE_COST = 3  # gpt-4o on the platform's credentials
STARTING = 60  # pays for 20 runs
TOP_UPS = (15, 15, 15)  # 15 more runs, paid during the runs
LOW = 40  # a top-up when the balance is below this (before the runs under way have spent it all)


@pytest.fixture
async def settings(
    postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path, fake_openai: FakeOpenAIServer
) -> AsyncIterator[Settings]:
    yield Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        AGENTGRAPH_KAFKA_BOOTSTRAP=kafka_bootstrap,
        AGENTGRAPH_KAFKA_TOPIC_PREFIX=kafka_topic_prefix.rstrip("."),
        AGENTGRAPH_KAFKA_PARTITIONS=4,
        JWT_VERIFY_KEY="charging-distributed-" + "k" * 40,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
        AGENTGRAPH_LLM_API_KEY="sk-platform",
        AGENTGRAPH_CREDITS_ENABLED=True,
        AGENTGRAPH_STARTING_CREDITS=STARTING,
        AGENTGRAPH_MAX_RUNNING_PER_USER=RUNNING,
    )


def llm_graph() -> GraphPayload:
    return GraphPayload.model_validate(
        {
            "name": "ask",
            "nodes": [
                {"id": "in", "block_id": INPUT, "input_default": {"name": "question"}},
                {"id": "llm", "block_id": LLM, "input_default": {"model": "gpt-4o", "credentials": PLATFORM_OPENAI}},
                {"id": "out", "block_id": OUTPUT, "input_default": {"name": "answer"}},
            ],
            "links": [
                {"source_id": "in", "sink_id": "llm", "source_name": "result", "sink_name": "prompt"},
                {"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"},
            ],
        }
    )


def transactions(container: Container, user: str) -> list[CreditLedger.Transaction]:
    events = container.accounts.repository.event_store.get(CreditLedger.id_for(user))
    return [e for e in events if isinstance(e, CreditLedger.Transaction)]


async def test_concurrent_runs_and_top_ups_of_one_user_lose_no_credit(settings: Settings) -> None:
    api = build_container(settings)
    worker = build_container(settings)
    relay, executor = RelayService(api), ExecutorService(worker)
    try:
        await relay.start()
        await executor.start()
        assert api.credits.balance("alice") == STARTING  # the starting grant, due (written with the first write)
        graph_id = str(api.graphs.create_graph("alice", llm_graph()).aggregate_id)
        content = api.graphs.graph_for_run("alice", graph_id, 1)
        ids: list[UUID] = [
            api.executions.request_execution(
                user_id="alice",
                graph_id=graph_id,
                graph_version=1,
                graph=content,
                lookup=api.blocks.get,
                inputs={"question": f"q{i}"},
            ).aggregate_id
            for i in range(RUNS)
        ]
        topped = 0

        async def top_up_when_low() -> None:
            # the API tops up while the executor holds the ledger in memory, each time the balance runs low
            nonlocal topped
            while topped < len(TOP_UPS):
                if await asyncio.to_thread(api.credits.balance, "alice") < LOW:
                    await asyncio.to_thread(api.credits.top_up, "alice", TOP_UPS[topped], f"top-up-{topped}")
                    topped += 1
                await asyncio.sleep(0.005)

        topping = asyncio.create_task(top_up_when_low())
        deadline = time.monotonic() + 120
        while True:
            peeks = [await asyncio.to_thread(api.executions.peek, "alice", i) for i in ids]
            if all(p.is_finished for p in peeks):
                break
            assert time.monotonic() < deadline, [p.status for p in peeks]
            await asyncio.sleep(0.05)
        topping.cancel()
        runs = [await asyncio.to_thread(worker.executions.load, i) for i in ids]
        writer = executor.executor.writer
    finally:
        await executor.stop()
        await relay.stop()

    try:
        assert all(run is not None for run in runs)
        statuses = [run.status for run in runs if run is not None]
        stats_cost = sum(int(run.stats.get("cost", 0)) for run in runs if run is not None)
        ledger = transactions(api, "alice")
        usage = -sum(t.amount for t in ledger if isinstance(t, CreditLedger.Charged))
        added = sum(t.amount for t in ledger if isinstance(t, CreditLedger.ToppedUp | CreditLedger.Granted))
        keys = [t.transaction_key for t in ledger]
        lowest = min(t.running_balance for t in ledger)
        final = api.credits.balance("alice")
        report = (
            f"ledger conflicts {writer.stats.ledger_conflicts}, statuses {sorted(Counter(statuses).items())}, "
            f"top-ups made {topped}, usage {usage}, final {final}, lowest {lowest}"
        )
        assert len(keys) == len(set(keys)), report  # no transaction twice
        assert sum(t.amount for t in ledger) == final, report  # the running balances add up
        assert lowest >= -NODE_COST, report  # never below zero by more than one node's cost
        assert usage == stats_cost, report  # what was charged is what the runs report
        assert [t.transaction_key for t in ledger if isinstance(t, CreditLedger.ToppedUp)] == [
            f"top-up-{i}" for i in range(topped)
        ], report  # every top-up kept
        assert added == STARTING + sum(TOP_UPS[:topped]), report
        assert final == STARTING + sum(TOP_UPS[:topped]) - usage, report
        completed = statuses.count("COMPLETED")
        charged_failures = Counter(
            str(run.stats.get("error"))
            for run in runs
            if run is not None and run.status != "COMPLETED" and run.stats.get("cost")
        )
        report += f", failed runs with a charge: {dict(charged_failures)}"
        print(f"\n{report}")
        assert completed * NODE_COST <= usage, report
        assert topped and completed > STARTING // NODE_COST, report  # top-ups paid for runs
    finally:
        worker.close()
        api.close()
