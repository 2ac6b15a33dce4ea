"""Executions housekeeping through HTTP, in each mode: delete a run (soft), share its outputs, unshare.

The stories: a deleted run is gone from its owner's lists, reads, counts
and statistics, and another user deleting it gets 404 with nothing recorded;
a shared run's public page (no credentials) shows its outputs and nothing
else: no inputs (secret ones neither), no node data, no owner; unsharing
(or deleting) makes its token answer as one naming nothing; another user
cannot share or unshare the owner's run; a run still queued can be neither
deleted nor shared. The read models then equal a rebuild from the event store.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
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
from domain.secret_inputs import MASK
from projections.registry import all_projections
from tests.integration.conftest import KAFKA_PARTITIONS, Mode
from tests.read_models import table_rows
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import CALCULATOR, INPUT, OUTPUT

pytestmark = pytest.mark.integration

JWT_KEY = "housekeeping-test-key-" + "k" * 32
MASTER_KEY = "hk1:" + base64.b64encode(b"h" * 32).decode()
FINAL = ("COMPLETED", "FAILED", "TERMINATED")
SHARED_FIELDS = {"id", "graph_name", "graph_description", "status", "created_at", "outputs"}

Platform = Callable[..., tuple[Container, TestClient]]


@pytest.fixture
def platform(mode: Mode) -> Iterator[Platform]:
    """The platform in the test's mode; ``executor=False`` leaves runs queued (the projector still runs)."""
    opened: list[tuple[Container, TestClient]] = []

    def build(*, executor: bool = True) -> tuple[Container, TestClient]:
        settings = mode.settings(JWT_VERIFY_KEY=JWT_KEY, AGENTGRAPH_ENCRYPTION_KEY=MASTER_KEY)
        container = build_container(settings)
        client = SessionClient(mode.app(container, executor=executor, projector=True))
        client.__enter__()
        opened.append((container, client))
        return container, client

    yield build
    for container, client in reversed(opened):
        client.__exit__(None, None, None)
        container.close()


def jwt(container: Container, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user)}"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def shared_graph(note: str) -> dict[str, Any]:
    """Inputs: ``n`` (added to 40 into output ``sum``), a secret ``passphrase`` echoed to output ``echo``,
    and ``note``, linked nowhere: an input only the run's inputs hold."""
    return {
        "name": "Sharer",
        "description": "adds forty",
        "nodes": [
            {"id": "n", "block_id": INPUT, "input_default": {"name": "n"}},
            {"id": "pass", "block_id": INPUT, "input_default": {"name": "passphrase", "secret": True}},
            {"id": "note", "block_id": INPUT, "input_default": {"name": note}},
            {"id": "calc", "block_id": CALCULATOR, "input_default": {"b": 40, "operation": "Add"}},
            {"id": "sum", "block_id": OUTPUT, "input_default": {"name": "sum"}},
            {"id": "echo", "block_id": OUTPUT, "input_default": {"name": "echo"}},
        ],
        "links": [
            {"source_id": "n", "sink_id": "calc", "source_name": "result", "sink_name": "a"},
            {"source_id": "calc", "sink_id": "sum", "source_name": "result", "sink_name": "value"},
            {"source_id": "pass", "sink_id": "echo", "source_name": "result", "sink_name": "value"},
        ],
    }


def run_to_end(client: TestClient, user: dict[str, str], graph_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    run_id = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs}, headers=user))["id"]
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=user)
        if answer.status_code == 200 and answer.json()["status"] in FINAL:
            run: dict[str, Any] = answer.json()
            return run
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def heads(container: Container) -> dict[str, int]:
    return {context: log.head() for context, log in container.event_logs.items()}


def stats_row(container: Container, table: str, key: str, value: str) -> dict[str, Any]:
    [row] = [r for r in table_rows(container.read_store, table, key) if r[key] == value]
    return row


def test_a_deleted_run_is_gone_from_lists_reads_and_statistics(platform: Platform) -> None:
    container, client = platform()
    alice, mallory = jwt(container, "alice-hk"), jwt(container, "mallory-hk")
    graph_id = ok(client.post("/api/graphs", json={"graph": shared_graph("note")}, headers=alice))["id"]
    kept, gone = (run_to_end(client, alice, graph_id, {"n": n, "passphrase": "p", "note": "x"}) for n in (1, 2))
    listed = client.get("/api/executions", headers=alice)
    assert listed.headers["X-Total-Count"] == "2"
    assert stats_row(container, "user_stats", "user_id", "alice-hk")["runs"] == 2

    # someone else's delete is a 404 that records nothing, and reads as a run that does not exist
    before = heads(container)
    refused = client.delete(f"/api/executions/{gone['id']}", headers=mallory)
    unknown = client.delete(f"/api/executions/{uuid.uuid4()}", headers=mallory)
    assert (refused.status_code, unknown.status_code) == (404, 404)
    assert refused.json()["code"] == unknown.json()["code"] == "execution_not_found"
    assert heads(container) == before

    deleted = client.delete(f"/api/executions/{gone['id']}", headers=alice)
    assert deleted.status_code == 204, deleted.text
    assert client.get(f"/api/graphs/{graph_id}/executions/{gone['id']}", headers=alice).status_code == 404
    listed = client.get("/api/executions", headers=alice)
    assert [run["id"] for run in listed.json()] == [kept["id"]] and listed.headers["X-Total-Count"] == "1"
    of_graph = ok(client.get(f"/api/graphs/{graph_id}/executions", headers=alice))
    assert [run["id"] for run in of_graph["executions"]] == [kept["id"]]
    assert of_graph["pagination"]["total_items"] == 1
    assert client.get(f"/api/executions/{gone['id']}/events", headers=alice).status_code == 404
    assert client.post(f"/api/graphs/{graph_id}/executions/{gone['id']}/stop", headers=alice).status_code == 404
    user_stats = stats_row(container, "user_stats", "user_id", "alice-hk")
    graph_stats = stats_row(container, "graph_stats", "graph_id", graph_id)
    assert (user_stats["runs"], user_stats["completed"]) == (1, 1)
    assert (graph_stats["runs"], graph_stats["completed"]) == (1, 1)
    # deleting it again, or sharing it, finds nothing
    assert client.delete(f"/api/executions/{gone['id']}", headers=alice).status_code == 404
    assert client.post(f"/api/graphs/{graph_id}/executions/{gone['id']}/share", headers=alice).status_code == 404

    # the last run deleted: the statistics count nothing, and say so
    assert client.delete(f"/api/executions/{kept['id']}", headers=alice).status_code == 204
    assert client.get("/api/executions", headers=alice).headers["X-Total-Count"] == "0"
    assert stats_row(container, "user_stats", "user_id", "alice-hk")["runs"] == 0
    assert stats_row(container, "graph_stats", "graph_id", graph_id)["runs"] == 0
    assert_read_models_equal_a_rebuild(container)


def test_a_shared_run_shows_its_outputs_only_until_unshared(platform: Platform) -> None:
    container, client = platform()
    alice, mallory = jwt(container, "alice-sh"), jwt(container, "mallory-sh")
    note_name, note, secret = f"note-{uuid.uuid4().hex}", f"INPUT-MARKER-{uuid.uuid4().hex}", "open-sesame-xyzzy"
    graph_id = ok(client.post("/api/graphs", json={"graph": shared_graph(note_name)}, headers=alice))["id"]
    run = run_to_end(client, alice, graph_id, {"n": 2, "passphrase": secret, note_name: note})
    assert run["status"] == "COMPLETED", run
    path = f"/api/graphs/{graph_id}/executions/{run['id']}/share"

    # someone else can neither share nor unshare it (404, nothing recorded)
    before = heads(container)
    assert client.post(path, headers=mallory).status_code == 404
    assert client.delete(path, headers=mallory).status_code == 404
    assert heads(container) == before

    shared = ok(client.post(path, headers=alice))
    token = shared["share_token"]
    assert shared == {"share_url": f"/share/{token}", "share_token": token} and len(token) >= 43
    assert ok(client.post(path, headers=alice)) == shared  # sharing again keeps the link handed out
    mine = ok(client.get(f"/api/graphs/{graph_id}/executions/{run['id']}", headers=alice))
    assert (mine["is_shared"], mine["share_token"]) == (True, token)
    # a shared run has still ended: a stop finds nothing to stop, and records nothing
    before = heads(container)
    assert (
        ok(client.post(f"/api/graphs/{graph_id}/executions/{run['id']}/stop", headers=alice))["status"] == "COMPLETED"
    )
    assert heads(container) == before

    # anyone holding the token, without credentials, sees the outputs and nothing else
    public = client.get(f"/api/public/shared/{token}")
    assert public.status_code == 200, public.text
    assert public.headers["Cache-Control"] == "no-store"
    page = public.json()
    assert set(page) == SHARED_FIELDS
    assert (page["id"], page["graph_name"], page["graph_description"]) == (run["id"], "Sharer", "adds forty")
    assert page["status"] == "COMPLETED" and page["created_at"]
    assert page["outputs"] == {"sum": [42], "echo": [MASK]}  # the secret input reads masked, as everywhere
    for hidden in (note, note_name, secret, "alice-sh", "passphrase", "node_exec", "input"):
        assert hidden not in public.text, hidden

    # unshared: the token answers exactly as a token that never named anything
    assert client.delete(path, headers=alice).status_code == 204
    revoked = client.get(f"/api/public/shared/{token}")
    never = client.get(f"/api/public/shared/{uuid.uuid4().hex}")
    malformed = client.get("/api/public/shared/not%20a%20token")
    assert revoked.status_code == never.status_code == malformed.status_code == 404
    assert revoked.json() == never.json() == malformed.json()
    assert ok(client.get(f"/api/graphs/{graph_id}/executions/{run['id']}", headers=alice))["is_shared"] is False
    assert client.delete(path, headers=alice).status_code == 204  # unsharing twice is harmless

    # shared anew: a new token; deleting the run ends the share with it
    again = ok(client.post(path, headers=alice))["share_token"]
    assert again != token and client.get(f"/api/public/shared/{again}").status_code == 200
    assert client.delete(f"/api/executions/{run['id']}", headers=alice).status_code == 204
    assert client.get(f"/api/public/shared/{again}").status_code == 404
    assert client.delete(path, headers=alice).status_code == 404

    rows = {row["share_token"]: row for row in table_rows(container.read_store, "shared_executions", "share_token")}
    assert rows[token]["revoked_at"] is not None and rows[again]["revoked_at"] is not None
    assert_read_models_equal_a_rebuild(container)


def test_a_queued_run_can_be_neither_deleted_nor_shared(platform: Platform) -> None:
    container, client = platform(executor=False)
    alice = jwt(container, "alice-q")
    graph_id = ok(client.post("/api/graphs", json={"graph": shared_graph("note")}, headers=alice))["id"]
    inputs = {"inputs": {"n": 1, "passphrase": "p", "note": "x"}}
    started = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json=inputs, headers=alice))
    before = heads(container)
    deleted = client.delete(f"/api/executions/{started['id']}", headers=alice)
    shared = client.post(f"/api/graphs/{graph_id}/executions/{started['id']}/share", headers=alice)
    assert (deleted.status_code, shared.status_code) == (409, 409), (deleted.text, shared.text)
    assert deleted.json()["code"] == shared.json()["code"] == "execution_not_finished"
    assert heads(container) == before
    assert ok(client.get(f"/api/graphs/{graph_id}/executions/{started['id']}", headers=alice))["status"] == "QUEUED"


# --------------------------------------------------------------------------------------------
# The read models equal a rebuild
# --------------------------------------------------------------------------------------------

TABLES = {
    "executions": "execution_id",
    "shared_executions": "share_token",
    "graph_stats": "graph_id",
    "user_stats": "user_id",
    "audit_log": "event_id",
}


def _partitions(container: Container) -> Partitioning | None:
    if not container.settings.kafka_bootstrap:
        return None
    return Partitioning(KAFKA_PARTITIONS, lambda key: partition_for(key, KAFKA_PARTITIONS))


def _wait_projected(container: Container) -> None:
    partitions = _partitions(container)
    expected: dict[tuple[str, int | None], int] = {}
    for context, log in container.event_logs.items():
        for event in log.read(0, 1_000_000):
            key = (context, partition_for(event.routing_key, KAFKA_PARTITIONS) if partitions else None)
            expected[key] = max(expected.get(key, 0), event.position)
    deadline = time.monotonic() + 60
    while not all(
        container.read_store.has_applied(projection.name, context, position, partition)
        for projection in all_projections()
        for (context, partition), position in expected.items()
        if context in projection.contexts
    ):
        assert time.monotonic() < deadline, "the projector did not catch up"
        time.sleep(0.05)


def _snapshot(container: Container) -> dict[str, str]:
    return {
        table: json.dumps(table_rows(container.read_store, table, order), default=str, sort_keys=True)
        for table, order in TABLES.items()
    }


def assert_read_models_equal_a_rebuild(container: Container) -> None:
    _wait_projected(container)
    live = _snapshot(container)
    for projection in all_projections():
        if projection.name in ("executions", "audit"):
            rebuild_projection(
                container.read_store, projection, reader(container.event_logs), partitions=_partitions(container)
            )
    assert _snapshot(container) == live


def test_the_public_page_is_rate_limited_per_address_like_every_unauthenticated_request(tmp_path: Path) -> None:
    settings = Settings(
        JWT_VERIFY_KEY=JWT_KEY,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        AGENTGRAPH_RATE_LIMIT_PER_MINUTE=3,
        AGENTGRAPH_REDIS_URL=None,
    )
    container = build_container(settings)
    try:
        with TestClient(create_app(container, run_projector=True), client=("203.0.113.7", 50000)) as client:
            answers = [client.get(f"/api/public/shared/{uuid.uuid4().hex}").status_code for _ in range(4)]
            assert answers == [404, 404, 404, 429]
    finally:
        container.close()
