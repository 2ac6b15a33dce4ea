"""Credits through HTTP, in each mode: embedded (SQLite), on PostgreSQL, on PostgreSQL with Kafka.

The stories: top up (AutoGPT's amount rules) and read the balance; retry a
top-up with one ``Idempotency-Key``, serially and from 20 threads through two
API instances at once (two processes' worth of stores and caches), and find
it credited once; a spend beyond the balance is refused; a run request with
no credits is 402 and records nothing; the history pages and sums a run's
usage in one line; refunds keep AutoGPT's rules; an admin grants credits;
a new user's starting grant is given once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import mint_token
from api.composition import Container, build_container
from domain.credit_ledger import InsufficientBalanceError
from tests.integration.conftest import Mode
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "credits-test-key-" + "k" * 32
NO_CREDITS = "Insufficient balance to execute the agent. Please top up your account."

Platform = Callable[..., tuple[Container, TestClient]]


@pytest.fixture
def platform(mode: Mode) -> Iterator[Platform]:
    """Builds the platform (API, executor, projector) in the test's mode; call it again for a second API instance."""
    opened: list[tuple[Container, TestClient]] = []

    def build(*, starting: int = 0, enabled: bool = True, workers: bool = True) -> tuple[Container, TestClient]:
        settings = mode.settings(
            JWT_VERIFY_KEY=JWT_KEY,
            AGENTGRAPH_CREDITS_ENABLED=enabled,
            AGENTGRAPH_STARTING_CREDITS=starting,
        )
        container = build_container(settings)
        client = SessionClient(mode.app(container, executor=workers, projector=workers))
        client.__enter__()
        opened.append((container, client))
        return container, client

    yield build
    for container, client in reversed(opened):
        client.__exit__(None, None, None)
        container.close()


def jwt(container: Container, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user, role=role)}"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def balance(client: TestClient, headers: dict[str, str]) -> int:
    credits: int = ok(client.get("/api/credits", headers=headers))["credits"]
    return credits


def history(client: TestClient, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    page: dict[str, Any] = ok(client.get("/api/credits/transactions", params=query, headers=headers))
    return page


def test_top_up_keeps_autogpts_amount_rules(platform: Platform) -> None:
    container, client = platform()
    alice = jwt(container, "alice")
    assert balance(client, alice) == 0
    for amount in (0, 499, 550, -500):
        refused = client.post("/api/credits", json={"credit_amount": amount}, headers=alice)
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"] == (
            f"Top up amount must be at least 500 credits and multiple of 100 but is {amount}"
        )
    topped = ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))
    assert topped["checkout_url"] == "" and topped["amount"] == 500 and topped["running_balance"] == 500
    assert topped["already_recorded"] is False and topped["transaction_key"]
    assert balance(client, alice) == 500
    (line,) = history(client, alice)["transactions"]
    assert line["transaction_type"] == "TOP_UP" and line["amount"] == 500 and line["running_balance"] == 500
    assert line["transaction_key"] == topped["transaction_key"] and line["description"] == "TOP_UP Transaction"


def test_a_retried_top_up_is_credited_once_and_answers_the_same(platform: Platform) -> None:
    container, client = platform()
    alice = jwt(container, "alice")
    retry = {**alice, "Idempotency-Key": "pi_3Nv1"}
    first = ok(client.post("/api/credits", json={"credit_amount": 1000}, headers=retry))
    second = ok(client.post("/api/credits", json={"credit_amount": 1000}, headers=retry))
    assert first["already_recorded"] is False and second["already_recorded"] is True
    assert {k: v for k, v in first.items() if k not in ("already_recorded", "consistency_token")} == {
        k: v for k, v in second.items() if k not in ("already_recorded", "consistency_token")
    }
    assert first["transaction_key"] == "pi_3Nv1"
    other = client.post("/api/credits", json={"credit_amount": 2000}, headers=retry)
    assert other.status_code == 409 and other.json()["code"] == "transaction_key_conflict"
    assert other.json()["detail"] == "Transaction key pi_3Nv1 already exists for user alice"
    assert balance(client, alice) == 1000
    assert len(history(client, alice)["transactions"]) == 1
    # keys are per user: bob's same key is his own top-up
    bob = {**jwt(container, "bob"), "Idempotency-Key": "pi_3Nv1"}
    assert ok(client.post("/api/credits", json={"credit_amount": 500}, headers=bob))["already_recorded"] is False


def test_twenty_parallel_top_ups_with_one_key_through_two_api_instances_credit_once(platform: Platform) -> None:
    container, client = platform()
    _, second_instance = platform(workers=False)  # its own connections and aggregate cache: another process's
    alice = {**jwt(container, "alice"), "Idempotency-Key": "webhook-evt-1"}
    start = threading.Barrier(20)

    def top_up(n: int) -> dict[str, Any]:
        start.wait()
        answer: dict[str, Any] = ok(
            (client if n % 2 else second_instance).post("/api/credits", json={"credit_amount": 700}, headers=alice)
        )
        return answer

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(top_up, range(20)))
    assert sum(not answer["already_recorded"] for answer in answers) == 1
    assert {(a["transaction_key"], a["amount"], a["running_balance"]) for a in answers} == {("webhook-evt-1", 700, 700)}
    tokens = [a["consistency_token"] for a in answers if a["consistency_token"]]
    reader = jwt(container, "alice")
    assert balance(client, {**reader, "X-Consistency-Token": tokens[0]}) == 700
    assert [line["amount"] for line in history(client, reader)["transactions"]] == [700]
    assert container.credits.balance("alice") == 700


def test_a_spend_beyond_the_balance_is_refused_and_recorded_nowhere(platform: Platform) -> None:
    container, client = platform()
    alice = jwt(container, "alice")
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))
    spent = container.credits.charge("alice", 120, "node-exec-1", {"graph_exec_id": "run-1", "graph_id": "g"})
    assert spent is not None and spent.running_balance == 380
    assert container.credits.charge("alice", 120, "node-exec-1", {"graph_exec_id": "run-1"}) is not None  # a retry
    with pytest.raises(InsufficientBalanceError) as refused:
        container.credits.charge("alice", 381, "node-exec-2", {"graph_exec_id": "run-1"})
    assert str(refused.value) == "Insufficient balance of $3.8, where this will cost $3.81"
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))  # a write to read after
    assert balance(client, alice) == 880
    lines = history(client, alice)["transactions"]
    assert [(line["transaction_type"], line["amount"]) for line in lines] == [
        ("TOP_UP", 500),
        ("USAGE", -120),
        ("TOP_UP", 500),
    ]


def test_a_run_request_without_credits_is_402_and_records_nothing(platform: Platform) -> None:
    container, client = platform()
    alice = jwt(container, "alice")
    graph = ok(client.post("/api/graphs", json={"graph": calculator()}, headers=alice))
    raw = ok(client.post("/api/api-keys", json={"name": "ci", "permissions": ["EXECUTE_GRAPH"]}, headers=alice))[
        "plain_text_key"
    ]
    heads = {context: log.head() for context, log in container.event_logs.items()}
    refused = client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=alice)
    assert refused.status_code == 402 and refused.json()["detail"] == NO_CREDITS
    external = client.post(
        f"/external-api/v1/graphs/{graph['id']}/execute/1", json={"Input": 1}, headers={"X-API-Key": raw}
    )
    assert external.status_code == 402 and external.json()["detail"] == NO_CREDITS
    assert {context: log.head() for context, log in container.event_logs.items()} == heads
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))
    ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=alice))


def test_with_credits_off_runs_need_no_credits(platform: Platform) -> None:
    container, client = platform(enabled=False, starting=1500)
    alice = jwt(container, "alice")
    graph = ok(client.post("/api/graphs", json={"graph": calculator()}, headers=alice))
    ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=alice))
    assert balance(client, alice) == 0  # no starting grant either: nothing is enforced or given


def test_a_new_users_starting_grant_is_given_once(platform: Platform) -> None:
    container, client = platform(starting=1500)
    alice = jwt(container, "alice")
    assert balance(client, alice) == 1500  # due, counted before it is recorded
    assert history(client, alice)["transactions"] == []
    graph = ok(client.post("/api/graphs", json={"graph": calculator()}, headers=alice))
    ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=alice))
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))
    assert balance(client, alice) == 2500
    lines = history(client, alice)["transactions"]
    assert [(line["transaction_type"], line["amount"]) for line in lines] == [
        ("TOP_UP", 500),
        ("TOP_UP", 500),
        ("GRANT", 1500),
    ]
    assert lines[-1]["transaction_key"] == "STARTING-GRANT-alice" and lines[-1]["running_balance"] == 1500


def test_history_groups_a_runs_usage_and_pages_newest_first(platform: Platform) -> None:
    container, client = platform()
    alice = jwt(container, "alice")
    ok(client.post("/api/credits", json={"credit_amount": 1000}, headers=alice))
    for n in range(3):
        container.credits.charge("alice", 10, f"a-{n}", {"graph_exec_id": "run-a", "graph_id": "graph-aaaa-1234"})
    for n in range(2):
        container.credits.charge("alice", 5, f"b-{n}", {"graph_exec_id": "run-b", "graph_id": "graph-bbbb-1234"})
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))  # read after this write

    page = history(client, alice)
    assert page["next_transaction_time"] is None
    lines = page["transactions"]
    assert [(line["transaction_type"], line["amount"], line["usage_node_count"]) for line in lines] == [
        ("TOP_UP", 500, 0),
        ("USAGE", -10, 2),
        ("USAGE", -30, 3),
        ("TOP_UP", 1000, 0),
    ]
    run_b = lines[1]
    assert run_b["usage_execution_id"] == "run-b" and run_b["usage_graph_id"] == "graph-bbbb-1234"
    assert run_b["description"] == "Graph #graph-bb Execution" and run_b["running_balance"] == 960
    assert run_b["usage_start_time"] < run_b["transaction_time"]
    assert set(run_b) >= {"transaction_key", "current_balance", "user_id", "user_email", "reason", "admin_email"}

    first = history(client, alice, transaction_count_limit=3)
    assert [line["amount"] for line in first["transactions"]] == [500, -10]  # 3 rows: the top-up and run b's two
    assert first["next_transaction_time"]
    rest = history(client, alice, transaction_count_limit=3, transaction_time=first["next_transaction_time"])
    assert [line["amount"] for line in rest["transactions"]] == [-30]  # run a's three rows
    assert rest["next_transaction_time"]  # a full page again: AutoGPT sets the cursor whenever a page is full
    last = history(client, alice, transaction_count_limit=3, transaction_time=rest["next_transaction_time"])
    assert [line["amount"] for line in last["transactions"]] == [1000]
    assert last["next_transaction_time"] is None

    top_ups = history(client, alice, transaction_type="TOP_UP")["transactions"]
    assert [line["amount"] for line in top_ups] == [500, 1000]
    for limit in (0, 1001):
        refused = client.get("/api/credits/transactions", params={"transaction_count_limit": limit}, headers=alice)
        assert refused.status_code == 400
        assert refused.json()["detail"] == "Transaction count limit must be between 1 and 1000"


def test_refunds_keep_autogpts_rules(platform: Platform) -> None:
    container, client = platform()
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    first = ok(client.post("/api/credits", json={"credit_amount": 1000}, headers=alice))
    second = ok(client.post("/api/credits", json={"credit_amount": 500}, headers=alice))

    assert (
        ok(client.post(f"/api/credits/{first['transaction_key']}/refund", json={"reason": "oops"}, headers=alice))
        == 1000
    )
    again = client.post(f"/api/credits/{second['transaction_key']}/refund", json={"reason": "again"}, headers=alice)
    assert again.status_code == 400 and again.json()["detail"] == (
        "Unable to request a refund for this transaction, "
        "the request of the top-up transaction within the same week has already been made."
    )
    assert balance(client, alice) == 500
    (request,) = ok(client.get("/api/credits/refunds", headers=alice))
    assert request["status"] == "APPROVED" and request["amount"] == 1000 and request["reason"] == "oops"
    assert request["transaction_key"] == first["transaction_key"] and request["user_id"] == "alice"
    assert set(request) == {
        "id",
        "user_id",
        "transaction_key",
        "amount",
        "reason",
        "result",
        "status",
        "created_at",
        "updated_at",
    }
    refund_line = history(client, alice)["transactions"][0]
    assert refund_line["transaction_type"] == "REFUND" and refund_line["amount"] == -1000

    # someone else's top-up and an unknown key read the same
    stolen = client.post(f"/api/credits/{second['transaction_key']}/refund", json={"reason": "mine?"}, headers=bob)
    unknown = client.post("/api/credits/no-such-key/refund", json={"reason": "?"}, headers=bob)
    assert stolen.status_code == unknown.status_code == 404
    assert ok(client.get("/api/credits/refunds", headers=bob)) == []

    # beyond the tolerance: pending, nothing refunded yet
    carol = jwt(container, "carol")
    top_up = ok(client.post("/api/credits", json={"credit_amount": 1000}, headers=carol))
    container.credits.charge("carol", 600, "node-1")
    assert ok(client.post(f"/api/credits/{top_up['transaction_key']}/refund", json={"reason": "r"}, headers=carol)) == 0
    (pending,) = ok(client.get("/api/credits/refunds", headers=carol))
    assert pending["status"] == "PENDING" and pending["result"] == "The refund request is under review."
    assert balance(client, carol) == 400


def test_an_admin_grants_credits(platform: Platform) -> None:
    container, client = platform()
    body = {"user_id": "bob", "amount": 700, "comments": "support ticket 42"}
    refused = client.post("/api/credits/admin/add_credits", json=body, headers=jwt(container, "mallory"))
    assert refused.status_code == 403
    admin = jwt(container, "root", role="admin")
    granted = ok(client.post("/api/credits/admin/add_credits", json=body, headers=admin))
    assert granted["new_balance"] == 700 and granted["transaction_key"]
    taken = client.post("/api/credits/admin/add_credits", json={**body, "amount": -800}, headers=admin)
    assert taken.status_code == 400 and taken.json()["detail"].startswith("Insufficient balance of $7.0")
    bob = jwt(container, "bob")
    ok(client.post("/api/credits", json={"credit_amount": 500}, headers=bob))
    lines = history(client, bob)["transactions"]
    assert [(line["transaction_type"], line["amount"]) for line in lines] == [("TOP_UP", 500), ("GRANT", 700)]
    assert lines[1]["reason"] == "support ticket 42"
    assert balance(client, jwt(container, "root", role="admin")) == 0  # granted to bob, not to the admin
