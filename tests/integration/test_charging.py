"""Charging per node through HTTP in each mode (SQLite, PostgreSQL, PostgreSQL + Kafka), with the run's events.

The stories: an LLM node on the platform's OpenAI credentials is charged its
model's price, with AutoGPT's usage metadata, and the run's stats report it;
the 100th node execution of a user costs the execution cost; a run that
exhausts the balance fails with AutoGPT's error and the balance never goes
below zero; a run started with no credits fails at once; 20 concurrent runs
of one user charge exactly what their stats report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.auth import mint_token
from api.composition import Container, build_container
from domain.block_costs import PLATFORM_CREDENTIALS
from domain.credit_ledger import CreditLedger
from domain.execution import NodeExecution
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.conftest import Mode
from tests.unit.api.conftest import SessionClient

pytestmark = pytest.mark.integration

JWT_KEY = "charging-test-key-" + "k" * 32
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
OPENAI = PLATFORM_CREDENTIALS["openai"]
PLATFORM_OPENAI = {"id": OPENAI.id, "provider": "openai", "type": "api_key", "title": OPENAI.title}


@pytest.fixture
def settings(mode: Mode, fake_openai: FakeOpenAIServer) -> Settings:
    return mode.settings(
        JWT_VERIFY_KEY=JWT_KEY,
        AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
        AGENTGRAPH_LLM_API_KEY="sk-platform",
        AGENTGRAPH_CREDITS_ENABLED=True,
        AGENTGRAPH_STARTING_CREDITS=0,
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build_container(settings)
    yield built
    built.close()


@pytest.fixture
def client(mode: Mode, container: Container) -> Iterator[TestClient]:
    with SessionClient(mode.app(container, executor=True, projector=True)) as test_client:
        yield test_client


def jwt(container: Container, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user, role=role)}"}


def grant(client: TestClient, container: Container, user: str, amount: int) -> None:
    body = {"user_id": user, "amount": amount, "comments": "test"}
    answer = client.post("/api/credits/admin/add_credits", json=body, headers=jwt(container, "admin", "admin"))
    assert answer.status_code == 200, answer.text


def create(client: TestClient, headers: dict[str, str], graph: dict[str, Any]) -> str:
    answer = client.post("/api/graphs", json={"graph": graph}, headers=headers)
    assert answer.status_code == 200, answer.text
    graph_id: str = answer.json()["id"]
    return graph_id


def llm_graph(model: str = "gpt-4o") -> dict[str, Any]:
    return {
        "name": "ask",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "question"}},
            {"id": "llm", "block_id": LLM, "input_default": {"model": model, "credentials": PLATFORM_OPENAI}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "answer"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "llm", "source_name": "result", "sink_name": "prompt"},
            {"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"},
        ],
    }


def wide_graph(nodes: int) -> dict[str, Any]:
    """``nodes`` free OUTPUT nodes, none linked: each runs once per run."""
    return {
        "name": "wide",
        "nodes": [
            {"id": f"o{i}", "block_id": OUTPUT, "input_default": {"name": f"o{i}", "value": i}} for i in range(nodes)
        ],
        "links": [],
    }


def start(client: TestClient, headers: dict[str, str], graph_id: str) -> str:
    started = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"question": "hi"}}, headers=headers)
    assert started.status_code == 200, started.text
    run_id: str = started.json()["id"]
    return run_id


def wait(client: TestClient, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if answer.status_code == 200 and answer.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def run(client: TestClient, headers: dict[str, str], graph_id: str) -> dict[str, Any]:
    return wait(client, headers, graph_id, start(client, headers, graph_id))


def ledger(container: Container, user: str) -> CreditLedger:
    found = container.accounts.repository.get(CreditLedger.id_for(user))
    assert isinstance(found, CreditLedger)
    return found


def node(container: Container, run_id: str, block_id: str) -> NodeExecution:
    execution = container.executions.load(UUID(run_id))
    assert execution is not None
    return next(n for n in execution.node_executions.values() if n.block_id == block_id)


def usage_events(container: Container, user: str) -> list[CreditLedger.Charged]:
    events = container.accounts.repository.event_store.get(CreditLedger.id_for(user))
    return [e for e in events if isinstance(e, CreditLedger.Charged)]


def test_an_llm_node_on_platform_credentials_is_charged_its_models_price(
    client: TestClient, container: Container, fake_openai: FakeOpenAIServer
) -> None:
    alice = jwt(container, "alice")
    grant(client, container, "alice", 100)
    graph_id = create(client, alice, llm_graph("gpt-4o"))
    ended = run(client, alice, graph_id)
    assert ended["status"] == "COMPLETED", ended
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-platform"  # the platform's key
    assert ended["stats"]["cost"] == 3
    (charge,) = usage_events(container, "alice")
    assert charge.amount == -3 and charge.running_balance == 97
    llm_exec = node(container, ended["id"], LLM)
    assert charge.transaction_key == llm_exec.node_exec_id and llm_exec.stats["cost"] == 3
    assert charge.metadata == {
        "graph_exec_id": ended["id"], "graph_id": graph_id, "node_id": llm_exec.node_id,
        "node_exec_id": llm_exec.node_exec_id, "block_id": LLM, "block": "AITextGeneratorBlock",
        "input": {"model": "gpt-4o", "credentials": {"id": OPENAI.id, "provider": "openai", "type": "api_key"}},
        "reason": f"Ran block {LLM} AITextGeneratorBlock",
    }  # fmt: skip
    assert ledger(container, "alice").balance == 97


def test_every_hundredth_node_execution_costs_one_credit(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    grant(client, container, "alice", 10)
    graph_id = create(client, alice, wide_graph(40))
    costs = [run(client, alice, graph_id)["stats"]["cost"] for _ in range(3)]  # 120 node executions
    assert sum(costs) == 1
    (charge,) = usage_events(container, "alice")
    assert charge.transaction_key == "EXECUTION-COST-alice-1" and charge.amount == -1
    assert charge.metadata["input"] == {"execution_count": 100, "charge": "Execution Cost"}
    assert charge.metadata["reason"].startswith("Execution Cost for 100 blocks of ex_id:")
    assert ledger(container, "alice").node_executions == 120


def test_a_run_that_exhausts_the_balance_fails_and_nothing_goes_below_zero(
    client: TestClient, container: Container
) -> None:
    alice = jwt(container, "alice")
    grant(client, container, "alice", 4)
    graph_id = create(client, alice, llm_graph("gpt-4o"))
    assert run(client, alice, graph_id)["status"] == "COMPLETED"  # 4 -> 1
    ended = run(client, alice, graph_id)
    error = "Insufficient balance of $0.01, where this will cost $0.03"
    assert ended["status"] == "FAILED", ended
    assert ended["stats"]["error"] == error
    llm = node(container, ended["id"], LLM)
    assert llm.status == "FAILED" and llm.output_data["error"] == [error] and llm.error == error
    book = ledger(container, "alice")
    assert book.balance == 1 and book.zero_balance_graphs == (graph_id,)
    # a run request still passes the 402 check (balance 1), and then the third one...
    grant(client, container, "alice", -1)
    refused = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"question": "hi"}}, headers=alice)
    assert refused.status_code == 402


def test_a_run_queued_with_no_credits_left_fails_at_once(mode: Mode, container: Container) -> None:
    # Both runs are queued before any executor runs: both pass the 402 check (balance 3) whatever the
    # timing. With the executor up at once, the first run could end (and be charged) before the second
    # request, which is then a 402: the story would depend on who is faster. The first API runs no worker:
    # queueing reads no read model. (On Kafka a projector stopped a moment after it started leaves its group
    # in the middle of the join, and the Tansu test broker then never completes the next member's join.)
    with SessionClient(mode.app(container)) as api:
        alice = jwt(container, "alice")
        grant(api, container, "alice", 3)
        graph_id = create(api, alice, llm_graph("gpt-4o"))
        first, second = start(api, alice, graph_id), start(api, alice, graph_id)
    with SessionClient(mode.app(container, executor=True, projector=True)) as client:
        ended = [wait(client, alice, graph_id, run_id) for run_id in (first, second)]
    assert sorted(e["status"] for e in ended) == ["COMPLETED", "FAILED"]
    failed = next(e for e in ended if e["status"] == "FAILED")
    assert failed["stats"]["error"] in (
        "You have no credits left to run an agent.",
        "Insufficient balance of $0.0, where this will cost $0.03",
    )
    assert ledger(container, "alice").balance == 0
    assert -sum(e.amount for e in usage_events(container, "alice")) == 3


def test_concurrent_runs_of_one_user_charge_what_their_stats_report(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    grant(client, container, "alice", 40)
    graph_id = create(client, alice, llm_graph("gpt-4o-mini"))
    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(lambda _: start(client, alice, graph_id), range(20)))
    ended = [wait(client, alice, graph_id, run_id) for run_id in run_ids]
    assert all(e["status"] == "COMPLETED" for e in ended)
    charged = -sum(e.amount for e in usage_events(container, "alice"))
    assert charged == sum(e["stats"]["cost"] for e in ended) == 20
    assert ledger(container, "alice").balance == 20
