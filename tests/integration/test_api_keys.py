"""API keys and the external API through HTTP, embedded (SQLite) and on PostgreSQL.

The stories: create a key, use it on the external API, suspend it (401),
revoke it (401); a key without the route's permission (403); a key never
reaches another user's graphs or runs (404); who acted is in every stored
event a request causes; the raw key is nowhere but in the create answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from projections.envelope import EventEnvelope
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "api-keys-test-key-" + "k" * 32


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Container, str | None]]:
    dsn: str | None = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    settings = Settings(
        AGENTGRAPH_DATABASE_URL=dsn,
        JWT_VERIFY_KEY=JWT_KEY,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True,
    )
    built = build_container(settings)
    yield built, dsn
    built.close()


@pytest.fixture
def container(backend: tuple[Container, str | None]) -> Container:
    return backend[0]


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with SessionClient(create_app(container, run_executor=True, run_projector=True)) as test_client:
        yield test_client


def jwt(container: Container, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user)}"}


def create_key(client: TestClient, headers: dict[str, str], *permissions: str, name: str = "ci") -> dict[str, Any]:
    answer = client.post("/api/api-keys", json={"name": name, "permissions": list(permissions)}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def key_headers(raw: str) -> dict[str, str]:
    return {"X-API-Key": raw}


def wait_for_run(client: TestClient, graph_id: str, run_id: str, raw: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        answer = client.get(f"/external-api/v1/graphs/{graph_id}/executions/{run_id}/results", headers=key_headers(raw))
        if answer.status_code == 200 and answer.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def stored_events(container: Container, context: str) -> list[EventEnvelope]:
    return container.event_logs[context].read(after=0, limit=10_000)


def test_key_lifecycle_create_use_suspend_revoke(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY", "READ_BLOCK")
    raw = created["plain_text_key"]
    info = created["api_key"]
    assert raw.startswith("agpt_") and len(raw) == 5 + 43
    assert info["prefix"] == raw[:8] and info["postfix"] == raw[-8:]
    assert info["status"] == "ACTIVE" and info["user_id"] == "alice"
    assert info["permissions"] == ["IDENTITY", "READ_BLOCK"]
    assert info["last_used_at"] is None and info["revoked_at"] is None
    assert set(info) == {
        "id", "name", "prefix", "postfix", "status", "permissions", "created_at", "last_used_at",
        "revoked_at", "description", "user_id",
    }  # fmt: skip

    me = client.get("/external-api/v1/me", headers=key_headers(raw))
    assert me.status_code == 200 and me.json()["id"] == "alice"
    assert client.get("/external-api/v1/blocks", headers=key_headers(raw)).status_code == 200

    listed = client.get("/api/api-keys", headers=alice).json()
    assert [k["id"] for k in listed] == [info["id"]] and raw not in str(listed)
    assert client.get(f"/api/api-keys/{info['id']}", headers=alice).json()["status"] == "ACTIVE"

    suspended = client.post(f"/api/api-keys/{info['id']}/suspend", headers=alice)
    assert suspended.status_code == 200 and suspended.json()["status"] == "SUSPENDED"
    refused = client.get("/external-api/v1/me", headers=key_headers(raw))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"

    revoked = client.delete(f"/api/api-keys/{info['id']}", headers=alice)
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "REVOKED" and revoked.json()["revoked_at"]
    assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 401
    assert client.get(f"/api/api-keys/{info['id']}", headers=alice).json()["status"] == "REVOKED"
    again = client.post(f"/api/api-keys/{info['id']}/suspend", headers=alice)
    assert again.status_code == 409 and again.json()["code"] == "api_key_revoked"


def test_a_revoked_key_is_refused_at_once_after_heavy_use(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY")
    raw, key_id = created["plain_text_key"], created["api_key"]["id"]
    for _ in range(20):
        assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 200
    assert client.delete(f"/api/api-keys/{key_id}", headers=alice).status_code == 200
    for _ in range(5):
        assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 401


def test_bad_keys_are_401_with_a_structured_body(client: TestClient) -> None:
    for headers in ({}, {"X-API-Key": "agpt_nope"}, {"X-API-Key": "not-a-key"}, {"X-API-Key": "agpt_" + "x" * 43}):
        answer = client.get("/external-api/v1/me", headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "unauthorized", headers
    assert client.get("/external-api/v1/me", headers={"X-API-Key": "agpt_" + "x" * 5000}).status_code == 401


def test_a_key_without_the_route_permission_is_403(client: TestClient, container: Container) -> None:
    raw = create_key(client, jwt(container, "alice"), "IDENTITY")["plain_text_key"]
    for method, path in (
        ("GET", "/external-api/v1/blocks"),
        ("POST", "/external-api/v1/blocks/some-block/execute"),
        ("POST", "/external-api/v1/graphs/00000000-0000-0000-0000-000000000000/execute/1"),
        ("GET", "/external-api/v1/graphs/00000000-0000-0000-0000-000000000000/executions/x/results"),
    ):
        answer = client.request(method, path, headers=key_headers(raw), json={})
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["code"] == "forbidden"
    changed = client.put(
        f"/api/api-keys/{create_key(client, jwt(container, 'bob'), 'IDENTITY')['api_key']['id']}/permissions",
        json={"permissions": ["READ_BLOCK"]},
        headers=jwt(container, "alice"),
    )
    assert changed.status_code == 404  # bob's key, as alice


def test_permissions_update_takes_effect(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY")
    raw, key_id = created["plain_text_key"], created["api_key"]["id"]
    assert client.get("/external-api/v1/blocks", headers=key_headers(raw)).status_code == 403
    updated = client.put(f"/api/api-keys/{key_id}/permissions", json={"permissions": ["READ_BLOCK"]}, headers=alice)
    assert updated.status_code == 200 and updated.json()["permissions"] == ["READ_BLOCK"]
    assert client.get("/external-api/v1/blocks", headers=key_headers(raw)).status_code == 200
    assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 403


def test_a_key_runs_its_owners_graph_and_never_reaches_another_users(client: TestClient, container: Container) -> None:
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    alice_graph = client.post("/api/graphs", json={"graph": calculator()}, headers=alice).json()
    bob_graph = client.post("/api/graphs", json={"graph": calculator()}, headers=bob).json()
    bob_run = client.post(f"/api/graphs/{bob_graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=bob).json()
    raw = create_key(client, alice, "EXECUTE_GRAPH", "READ_GRAPH", "EXECUTE_BLOCK")["plain_text_key"]

    started = client.post(
        f"/external-api/v1/graphs/{alice_graph['id']}/execute/1", json={"Input": 8}, headers=key_headers(raw)
    )
    assert started.status_code == 200, started.text
    assert set(started.json()) == {"id"}
    results = wait_for_run(client, alice_graph["id"], started.json()["id"], raw)
    assert results["execution_id"] == started.json()["id"] and results["status"] == "COMPLETED"
    assert results["nodes"] and all(set(node) == {"node_id", "input", "output"} for node in results["nodes"])
    assert results["output"]

    assert (
        client.post(
            f"/external-api/v1/graphs/{bob_graph['id']}/execute/1", json={"Input": 8}, headers=key_headers(raw)
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/external-api/v1/graphs/{bob_graph['id']}/executions/{bob_run['id']}/results", headers=key_headers(raw)
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/external-api/v1/graphs/{alice_graph['id']}/executions/{bob_run['id']}/results",
            headers=key_headers(raw),
        ).status_code
        == 404
    )


def test_every_command_records_who_acted(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    graph = client.post(
        "/api/graphs", json={"graph": calculator()}, headers={**alice, "X-Request-ID": "req-jwt-1"}
    ).json()
    created = next(e for e in stored_events(container, "graphs") if e.aggregate_id == graph["id"])
    assert created.metadata == {"user_id": "alice", "request_id": "req-jwt-1"}
    assert "_metadata_" not in created.data

    key = create_key(client, alice, "EXECUTE_GRAPH")
    key_created = next(e for e in stored_events(container, "accounts") if e.aggregate_id == key["api_key"]["id"])
    assert key_created.metadata["user_id"] == "alice"

    started = client.post(
        f"/external-api/v1/graphs/{graph['id']}/execute/1",
        json={"Input": 1},
        headers={"X-API-Key": key["plain_text_key"], "X-Request-ID": "req-key-1"},
    ).json()
    requested = next(e for e in stored_events(container, "executions") if e.aggregate_id == started["id"])
    assert requested.metadata == {"user_id": "alice", "api_key_id": key["api_key"]["id"], "request_id": "req-key-1"}
    # the domain never sees the metadata: the aggregate reloads as before
    assert container.graphs.graph_for_run("alice", graph["id"], 1).name == "Calculator"


def test_last_used_at_is_recorded_in_batches(client: TestClient, container: Container) -> None:
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY")
    for _ in range(10):
        client.get("/external-api/v1/me", headers=key_headers(created["plain_text_key"]))
    client.app.state.api_key_authenticator.usage.flush()  # type: ignore[attr-defined]
    used = [e for e in stored_events(container, "accounts") if e.type == "ApiKey.Used"]
    assert len(used) == 1  # ten uses, one event
    deadline = time.monotonic() + 5
    while client.get(f"/api/api-keys/{created['api_key']['id']}", headers=alice).json()["last_used_at"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _all_postgres_bytes(dsn: str) -> bytes:
    chunks: list[bytes] = []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall():
                chunks.append(row.encode())
            # event states are bytea: their text form is hex, so search the raw bytes too
            cols = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "AND data_type = 'bytea'",
                (schema, table),
            ).fetchall()
            for (col,) in cols:
                for (value,) in conn.execute(f'SELECT "{col}" FROM "{schema}"."{table}"').fetchall():
                    chunks.append(bytes(value or b""))
    return b"\n".join(chunks)


def test_the_raw_key_is_nowhere_but_in_the_create_answer(
    client: TestClient,
    container: Container,
    backend: tuple[Container, str | None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY", "EXECUTE_GRAPH")
    raw, key_id = created["plain_text_key"], created["api_key"]["id"]
    client.get("/external-api/v1/me", headers=key_headers(raw))
    client.get("/external-api/v1/blocks", headers=key_headers(raw))  # a 403
    client.post(f"/api/api-keys/{key_id}/suspend", headers=alice)
    client.get("/external-api/v1/me", headers=key_headers(raw))  # a 401
    client.app.state.api_key_authenticator.usage.flush()  # type: ignore[attr-defined]
    answers = [
        client.get("/api/api-keys", headers=alice).text,
        client.get(f"/api/api-keys/{key_id}", headers=alice).text,
        client.delete(f"/api/api-keys/{key_id}", headers=alice).text,
    ]
    needle, tail_free = raw.encode(), raw[8:-8].encode()  # the middle is never stored, even in part

    _, dsn = backend
    if dsn is None:
        stored = b"".join(path.read_bytes() for path in Path(container.settings.data_dir).rglob("*") if path.is_file())
    else:
        stored = _all_postgres_bytes(dsn)
    assert raw[:8].encode() in stored and raw[-8:].encode() in stored  # the search does see what is stored
    assert needle not in stored and tail_free not in stored
    for answer in answers:
        assert raw not in answer and raw[8:-8] not in answer
    assert raw not in caplog.text and raw[8:-8] not in caplog.text


def test_a_key_revoked_on_another_api_process_is_refused_on_the_next_request(
    client: TestClient, container: Container
) -> None:
    alice = jwt(container, "alice")
    created = create_key(client, alice, "IDENTITY")
    raw, key_id = created["plain_text_key"], created["api_key"]["id"]
    assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 200  # known to this process
    other = build_container(container.settings)  # a second API process on the same stores
    try:
        with TestClient(create_app(other)) as other_client:
            assert other_client.post(f"/api/api-keys/{key_id}/suspend", headers=alice).status_code == 200
    finally:
        other.close()
    assert client.get("/external-api/v1/me", headers=key_headers(raw)).status_code == 401
