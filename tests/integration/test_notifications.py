"""Notifications through HTTP and /ws, in each mode: embedded (SQLite), on PostgreSQL, on PostgreSQL with Kafka.

The stories: a finished run is listed and pushed as AGENT_RUN to its owner's sockets only; a failing block
gives BLOCK_EXECUTION_FAILED; marking read, paging and another user's id (404); a type turned off is neither
listed nor pushed; credits crossing below 500 give LOW_BALANCE once, a run stopped for want of credits
ZERO_BALANCE; and the notifications read model equals a rebuild afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.event_log import reader
from adapters.kafka_topics import partition_for
from adapters.read_store import Partitioning, rebuild_projection
from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from domain.block_costs import PLATFORM_CREDENTIALS
from projections.notifications.projection import NotificationsProjection
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.conftest import KAFKA_PARTITIONS, Mode
from tests.read_models import table_rows
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "notifications-test-key-" + "k" * 32
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
REMOVE_KEY = "46afe2ea-c613-43f8-95ff-6692c3ef6876"
OPENAI = PLATFORM_CREDENTIALS["openai"]
PLATFORM_OPENAI = {"id": OPENAI.id, "provider": "openai", "type": "api_key", "title": OPENAI.title}
ALL_ON = {"AGENT_RUN": True, "BLOCK_EXECUTION_FAILED": True, "LOW_BALANCE": True, "ZERO_BALANCE": True}

Platform = Callable[..., tuple[Container, TestClient]]


@pytest.fixture
def platform(mode: Mode, fake_openai: FakeOpenAIServer) -> Iterator[Platform]:
    opened: list[tuple[Container, TestClient]] = []

    def build(*, credits: bool = False) -> tuple[Container, TestClient]:
        settings = mode.settings(
            JWT_VERIFY_KEY=JWT_KEY,
            AGENTGRAPH_CREDITS_ENABLED=credits,
            AGENTGRAPH_STARTING_CREDITS=0,
            AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
            AGENTGRAPH_LLM_API_KEY="sk-platform",
        )
        container = build_container(settings)
        client = SessionClient(mode.app(container, executor=True, projector=True))
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


def create(client: TestClient, headers: dict[str, str], graph: dict[str, Any]) -> str:
    graph_id: str = ok(client.post("/api/graphs", json={"graph": graph}, headers=headers))["id"]
    return graph_id


def run(client: TestClient, headers: dict[str, str], graph_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    run_id = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs}, headers=headers))["id"]
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if answer.status_code == 200 and answer.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def listed(client: TestClient, headers: dict[str, str], count: int, **query: Any) -> dict[str, Any]:
    """The user's notifications once ``count`` are listed (the projector follows the run's end)."""
    deadline = time.monotonic() + 60
    while True:
        page: dict[str, Any] = ok(client.get("/api/notifications", params=query, headers=headers))
        if page["pagination"]["total_items"] >= count:
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.05)


def failing_graph() -> dict[str, Any]:
    """One node that fails (it yields on its error pin: the key is not in the dictionary)."""
    return {
        "name": "Breaker",
        "nodes": [{"id": "rm", "block_id": REMOVE_KEY, "input_default": {"dictionary": {}, "key": "missing"}}],
        "links": [],
    }


def llm_graph() -> dict[str, Any]:
    return {
        "name": "Asker",
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


def socket_path(container: Container, user: str) -> str:
    return f"/ws?token={mint_token(container.jwt, user)}"


def assert_equals_a_rebuild(mode: Mode, container: Container) -> None:
    projection = NotificationsProjection()
    order = {"notifications": "id", "notification_reads": "notification_id", "notification_preferences": "user_id"}
    live = {table: table_rows(container.read_store, table, key) for table, key in order.items()}
    partitions = None
    if mode.kafka:
        partitions = Partitioning(KAFKA_PARTITIONS, lambda key: partition_for(key, KAFKA_PARTITIONS))
    rebuild_projection(container.read_store, projection, reader(container.event_logs), partitions=partitions)
    assert {table: table_rows(container.read_store, table, key) for table, key in order.items()} == live


def test_runs_are_listed_and_pushed_to_their_owner_only_and_preferences_are_honoured(
    mode: Mode, platform: Platform
) -> None:
    container, client = platform()
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    calc = create(client, alice, calculator("Adder", b=2))
    with (
        client.websocket_connect(socket_path(container, "alice")) as alice_ws,
        client.websocket_connect(socket_path(container, "bob")) as bob_ws,
    ):
        ended = run(client, alice, calc, {"Input": 40})
        assert ended["status"] == "COMPLETED"
        page = listed(client, alice, 1)
        (item,) = page["notifications"]
        assert item["type"] == "AGENT_RUN" and item["read"] is False and item["user_id"] == "alice"
        data = item["data"]
        assert data["agent_name"] == "Adder" and data["graph_id"] == calc and data["execution_id"] == ended["id"]
        assert data["outputs"] == [{"name": "Output", "output": [42]}] and data["node_count"] == 3
        assert data["credits_used"] == 0 and data["execution_time"] >= 0
        pushed = alice_ws.receive_json()
        assert pushed["method"] == "notification" and pushed["channel"] is None
        assert pushed["data"]["type"] == "AGENT_RUN" and pushed["data"]["id"] == item["id"]
        assert pushed["data"]["data"]["agent_name"] == "Adder"
        # bob's socket got nothing: his next frame is the answer to his heartbeat
        bob_ws.send_json({"method": "heartbeat", "data": "ping", "success": True})
        assert bob_ws.receive_json() == {"method": "heartbeat", "data": "pong", "success": True}

        # a failing block
        breaker = create(client, alice, failing_graph())
        run(client, alice, breaker, {})
        failed = next(n for n in listed(client, alice, 3)["notifications"] if n["type"] == "BLOCK_EXECUTION_FAILED")
        assert failed["data"]["block_name"] == "RemoveFromDictionaryBlock"
        assert failed["data"]["block_id"] == REMOVE_KEY and failed["data"]["node_id"]  # the graph's node id
        assert failed["data"]["error_message"] == "Key 'missing' not found in dictionary"
        assert failed["data"]["graph_id"] == breaker
        kinds = [alice_ws.receive_json()["data"]["type"] for _ in range(2)]
        assert sorted(kinds) == ["AGENT_RUN", "BLOCK_EXECUTION_FAILED"]

        # another user's id is not found; the owner marks it read: unread come first
        assert client.post(f"/api/notifications/{item['id']}/read", headers=bob).status_code == 404
        assert client.post("/api/notifications/nope/read", headers=alice).status_code == 404
        assert ok(client.post(f"/api/notifications/{item['id']}/read", headers=alice))["read"] is True
        page = ok(client.get("/api/notifications", headers=alice))
        assert [n["read"] for n in page["notifications"]] == [False, False, True]
        assert page["notifications"][-1]["id"] == item["id"]
        second = ok(client.get("/api/notifications", params={"page": 2, "page_size": 2}, headers=alice))
        assert [n["id"] for n in second["notifications"]] == [item["id"]]
        assert second["pagination"] == {"total_items": 3, "total_pages": 2, "current_page": 2, "page_size": 2}
        for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}):
            assert client.get("/api/notifications", params=bad, headers=alice).status_code == 422
        assert ok(client.get("/api/notifications", headers=bob))["notifications"] == []

        # AGENT_RUN turned off: neither listed nor pushed
        prefs = {"email": "alice@example.com", "preferences": {**ALL_ON, "AGENT_RUN": False}, "daily_limit": 5}
        saved = ok(client.post("/api/auth/user/preferences", json=prefs, headers=alice))
        assert saved["preferences"]["AGENT_RUN"] is False and saved["daily_limit"] == 5
        shown = ok(client.get("/api/auth/user/preferences", headers=alice))
        assert shown["email"] == "alice@example.com" and shown["preferences"]["AGENT_RUN"] is False
        assert shown["preferences"]["AGENT_APPROVED"] is True and shown["user_id"] == "alice"
        assert [n["type"] for n in ok(client.get("/api/notifications", headers=alice))["notifications"]] == [
            "BLOCK_EXECUTION_FAILED"
        ]
        run(client, alice, calc, {"Input": 1})
        run(client, alice, breaker, {})
        # the run's AGENT_RUN came first in the log: had it been pushed, it would be the next frame
        assert alice_ws.receive_json()["data"]["type"] == "BLOCK_EXECUTION_FAILED"
    assert len(listed(client, alice, 2)["notifications"]) >= 2
    for bad in (
        {**prefs, "daily_limit": -1},
        {**prefs, "preferences": {"NOT_A_TYPE": True}},
        {**prefs, "email": "not an address"},
        {"email": "a@b.c", "preferences": {}},
    ):
        assert client.post("/api/auth/user/preferences", json=bad, headers=alice).status_code == 422
    assert_equals_a_rebuild(mode, container)


def test_low_balance_once_when_crossing_500_and_zero_balance_when_a_run_cannot_be_paid(
    mode: Mode, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentgraph.email")
    container, client = platform(credits=True)
    alice, admin = jwt(container, "alice"), jwt(container, "admin", "admin")
    prefs = {"email": "alice@example.com", "preferences": {}, "daily_limit": 10}
    ok(client.post("/api/auth/user/preferences", json=prefs, headers=alice))

    def grant(amount: int) -> None:
        body = {"user_id": "alice", "amount": amount, "comments": "test"}
        ok(client.post("/api/credits/admin/add_credits", json=body, headers=admin))

    grant(505)
    asker = create(client, alice, llm_graph())
    assert run(client, alice, asker, {"question": "hi"})["status"] == "COMPLETED"  # 505 -> 502
    assert run(client, alice, asker, {"question": "hi"})["status"] == "COMPLETED"  # 502 -> 499: LOW_BALANCE
    assert run(client, alice, asker, {"question": "hi"})["status"] == "COMPLETED"  # 499 -> 496: no second one
    grant(-494)  # 2 left: the next run cannot pay its LLM node
    assert run(client, alice, asker, {"question": "hi"})["status"] == "FAILED"
    page = listed(client, alice, 6)  # 4 runs, LOW_BALANCE, ZERO_BALANCE
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in page["notifications"]:
        by_type.setdefault(item["type"], []).append(item["data"])
    (low,) = by_type["LOW_BALANCE"]
    assert low == {"current_balance": 499, "billing_page_link": "/profile/credits"}
    (zero,) = by_type["ZERO_BALANCE"]
    assert zero["agent_name"] == "Asker" and zero["current_balance"] == 2 and zero["shortfall"] == 1
    assert zero["billing_page_link"] == "/profile/credits" and zero["graph_id"] == asker
    assert sorted(r["credits_used"] for r in by_type["AGENT_RUN"]) == [0, 3, 3, 3]
    # the projector's deliverer mailed the two immediate ones (the log adapter), the runs wait for their digest
    deadline = time.monotonic() + 30
    while len(mailed := [r.getMessage() for r in caplog.records if r.name == "agentgraph.email"]) < 2:
        assert time.monotonic() < deadline, mailed
        time.sleep(0.05)
    assert sorted(line.split(": ")[-1] for line in mailed) == [
        "Low Balance Warning!, 1 notification(s)",
        "You're out of credits!, 1 notification(s)",
    ]
    assert all("to a***@example.com (user alice)" in line for line in mailed)
    assert_equals_a_rebuild(mode, container)


def test_notifications_travel_through_redis_to_the_owners_socket(
    postgres_dsn: str, redis_url: str, redis_key_prefix: str, tmp_path: Path
) -> None:
    """Distributed: the projector publishes on the Redis live channel, the API's hub takes it from there."""
    settings = Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        AGENTGRAPH_REDIS_URL=redis_url,
        AGENTGRAPH_REDIS_KEY_PREFIX=redis_key_prefix,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        JWT_VERIFY_KEY=JWT_KEY,
    )
    container = build_container(settings)
    try:
        with SessionClient(create_app(container, run_executor=True, run_projector=True)) as client:
            alice = jwt(container, "alice")
            calc = create(client, alice, calculator("Adder", b=2))
            with (
                client.websocket_connect(socket_path(container, "alice")) as alice_ws,
                client.websocket_connect(socket_path(container, "bob")) as bob_ws,
            ):
                ended = run(client, alice, calc, {"Input": 1})
                pushed = alice_ws.receive_json()
                assert pushed["method"] == "notification" and pushed["data"]["type"] == "AGENT_RUN"
                assert pushed["data"]["data"]["execution_id"] == ended["id"]
                bob_ws.send_json({"method": "heartbeat", "data": "ping", "success": True})
                assert bob_ws.receive_json()["method"] == "heartbeat"
    finally:
        container.close()
