"""Integration credentials through HTTP, in each mode: embedded (SQLite), on PostgreSQL, on PostgreSQL + Kafka.

The stories: store credentials and read them back without their secret; a
run whose LLM node names stored credentials calls the model with the stored
key; credentials deleted before a run fail it clearly; erasing a user's
secrets (crypto-shredding) makes them unreadable everywhere while the log
still loads; ``agentgraph keys rotate`` re-wraps data keys forward; and the
raw secret is nowhere: not in an answer, an event, a read model or a log line.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adapters.settings import Settings
from api.auth import mint_token
from api.cli import app as cli
from api.composition import Container, Part, build_container
from domain.credentials import IntegrationCredentials
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.conftest import Mode
from tests.secret_scan import scan_files, scan_postgres
from tests.unit.api.conftest import SessionClient

pytestmark = pytest.mark.integration

JWT_KEY = "credentials-test-key-" + "k" * 32
OLD_KEY = "old1:" + base64.b64encode(b"o" * 32).decode()
NEW_KEY = "new2:" + base64.b64encode(b"n" * 32).decode()
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
STORED_KEY = "sk-stored-" + "x7q" * 12
ENV_KEY = "sk-environment-fallback"


@pytest.fixture
def settings(mode: Mode, fake_openai: FakeOpenAIServer) -> Settings:
    return mode.settings(
        JWT_VERIFY_KEY=JWT_KEY,
        AGENTGRAPH_ENCRYPTION_KEY=OLD_KEY,
        AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
        AGENTGRAPH_LLM_API_KEY=ENV_KEY,
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


def store_api_key(client: TestClient, headers: dict[str, str], secret: str = STORED_KEY) -> dict[str, Any]:
    body = {"type": "api_key", "title": "my openai key", "api_key": secret, "provider": "ignored"}
    answer = client.post("/api/integrations/openai/credentials", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    assert secret not in answer.text
    created: dict[str, Any] = answer.json()
    return created


def llm_graph(client: TestClient, headers: dict[str, str], credentials: dict[str, Any] | None) -> str:
    node_input: dict[str, Any] = {"model": "gpt-4o-mini"}
    if credentials is not None:
        node_input["credentials"] = {k: credentials[k] for k in ("id", "provider", "type", "title")}
    graph = {
        "name": "ask",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "question"}},
            {"id": "llm", "block_id": LLM, "input_default": node_input},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "answer"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "llm", "source_name": "result", "sink_name": "prompt"},
            {"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"},
        ],
    }
    answer = client.post("/api/graphs", json={"graph": graph}, headers=headers)
    assert answer.status_code == 200, answer.text
    graph_id: str = answer.json()["id"]
    return graph_id


def run(client: TestClient, headers: dict[str, str], graph_id: str) -> dict[str, Any]:
    started = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"question": "hi"}}, headers=headers)
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + 20
    while True:
        answer = client.get(f"/api/graphs/{graph_id}/executions/{started.json()['id']}", headers=headers)
        if answer.status_code == 200 and answer.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.05)


def test_credentials_are_stored_listed_and_deleted_without_their_secret(
    client: TestClient, container: Container
) -> None:
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    key = store_api_key(client, alice)
    assert key == {
        "id": key["id"], "provider": "openai", "type": "api_key", "title": "my openai key",
        "scopes": None, "username": None, "host": None,
    }  # fmt: skip
    oauth = client.post(
        "/api/integrations/github/credentials",
        json={
            "type": "oauth2",
            "title": "gh",
            "username": "octo",
            "access_token": "gho_token-secret",
            "refresh_token": "ghr_refresh-secret",
            "scopes": ["repo"],
            "access_token_expires_at": 1_900_000_000,
        },
        headers=alice,
    ).json()
    assert (oauth["scopes"], oauth["username"]) == (["repo"], "octo")
    host = client.post(
        "/api/integrations/http/credentials",
        json={"type": "host_scoped", "host": "api.example.com", "headers": {"X-Api-Token": "hdr-secret"}},
        headers=alice,
    ).json()
    assert host["host"] == "api.example.com" and host["type"] == "host_scoped"
    password = client.post(
        "/api/integrations/smtp/credentials",
        json={"type": "user_password", "username": "me", "password": "pw-secret"},
        headers=alice,
    ).json()
    assert password["username"] is None  # shown for oauth2 only, as AutoGPT does

    listed = client.get("/api/integrations/credentials", headers=alice)
    assert sorted(c["id"] for c in listed.json()) == sorted(c["id"] for c in (key, oauth, host, password))
    assert [c["id"] for c in client.get("/api/integrations/openai/credentials", headers=alice).json()] == [key["id"]]
    assert client.get(f"/api/integrations/openai/credentials/{key['id']}", headers=alice).json() == key
    mismatch = client.get(f"/api/integrations/github/credentials/{key['id']}", headers=alice)
    assert (mismatch.status_code, mismatch.json()["detail"]) == (404, "Credentials do not match the specified provider")
    for other in (f"/api/integrations/openai/credentials/{key['id']}", "/api/integrations/openai/credentials/nope"):
        answer = client.get(other, headers=bob)
        assert (answer.status_code, answer.json()["detail"]) == (404, "Credentials not found")
    assert client.get("/api/integrations/credentials", headers=bob).json() == []
    assert client.delete(f"/api/integrations/openai/credentials/{key['id']}", headers=bob).status_code == 404

    deleted = client.delete(f"/api/integrations/openai/credentials/{key['id']}", headers=alice)
    assert deleted.json() == {"deleted": True, "revoked": None}
    revoked = client.delete(f"/api/integrations/github/credentials/{oauth['id']}", headers=alice)
    assert revoked.json() == {"deleted": True, "revoked": False}
    assert client.get(f"/api/integrations/openai/credentials/{key['id']}", headers=alice).status_code == 404
    assert client.delete(f"/api/integrations/openai/credentials/{key['id']}", headers=alice).status_code == 404
    everything = " ".join(client.get(p, headers=alice).text for p in ("/api/integrations/credentials",))
    for secret in (STORED_KEY, "gho_token-secret", "ghr_refresh-secret", "hdr-secret", "pw-secret"):
        assert secret not in everything


def test_an_llm_node_calls_the_model_with_the_stored_key(
    client: TestClient, container: Container, fake_openai: FakeOpenAIServer
) -> None:
    alice = jwt(container, "alice")
    key = store_api_key(client, alice)
    ended = run(client, alice, llm_graph(client, alice, key))
    assert ended["status"] == "COMPLETED", ended
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {STORED_KEY}"
    # without credentials the embedded demo's environment key is used
    ended = run(client, alice, llm_graph(client, alice, None))
    assert ended["status"] == "COMPLETED", ended
    assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"


def test_credentials_deleted_before_a_run_fail_it_clearly(
    client: TestClient, container: Container, fake_openai: FakeOpenAIServer
) -> None:
    alice = jwt(container, "alice")
    key = store_api_key(client, alice)
    graph_id = llm_graph(client, alice, key)
    client.delete(f"/api/integrations/openai/credentials/{key['id']}", headers=alice)
    ended = run(client, alice, graph_id)
    assert ended["status"] == "FAILED"
    message = f"Credentials #{key['id']} for user #alice not found"
    assert ended["stats"]["error"] == message
    [llm] = [n for n in ended["node_executions"] if n["block_id"] == LLM]
    assert llm["status"] == "FAILED" and llm["output_data"]["error"] == [message]
    assert llm["input_data"]["credentials"]["id"] == key["id"]  # the reference, never a secret
    assert fake_openai.requests == []


def test_erasing_a_users_secrets_makes_them_unreadable_everywhere(
    client: TestClient, container: Container, fake_openai: FakeOpenAIServer
) -> None:
    alice, admin = jwt(container, "alice"), jwt(container, "root", role="admin")
    bob = jwt(container, "bob")
    key = store_api_key(client, alice)
    bobs = store_api_key(client, bob, "sk-bob-" + "b" * 20)
    graph_id = llm_graph(client, alice, key)
    assert run(client, alice, graph_id)["status"] == "COMPLETED"  # before: readable

    assert client.delete("/api/admin/users/alice/secrets", headers=alice).status_code == 403
    erased = client.delete("/api/admin/users/alice/secrets", headers=admin)
    assert erased.status_code == 200 and erased.json() == {"user_id": "alice", "erased": True}

    assert client.get("/api/integrations/credentials", headers=alice).json() == []
    assert client.get(f"/api/integrations/openai/credentials/{key['id']}", headers=alice).status_code == 404
    calls = len(fake_openai.requests)
    ended = run(client, alice, graph_id)
    assert ended["status"] == "FAILED"
    assert ended["stats"]["error"].startswith(f"Credentials #{key['id']} for user #alice not found")
    assert "cannot be decrypted" in ended["stats"]["error"]
    assert len(fake_openai.requests) == calls
    assert [c["id"] for c in client.get("/api/integrations/credentials", headers=bob).json()] == [bobs["id"]]

    # the log still loads and replays: the aggregate is there, its ciphertext opens with nothing
    events = container.event_logs["accounts"].read(after=0, limit=10_000)
    assert any(e.type == "UserDataKey.Shredded" for e in events)
    stored = container.accounts.repository.get(__import__("uuid").UUID(key["id"]))
    assert isinstance(stored, IntegrationCredentials) and stored.ciphertext.startswith("agc1:")
    with pytest.raises(Exception, match="not found"):
        container.credentials.resolve("alice", {"id": key["id"]})

    # alice may store new credentials: a new data key, the old secrets stay dead
    fresh = store_api_key(client, alice, "sk-after-erasure-" + "f" * 10)
    assert [c["id"] for c in client.get("/api/integrations/credentials", headers=alice).json()] == [fresh["id"]]


def test_keys_rotate_rewraps_data_keys_under_the_new_master_key(
    client: TestClient, container: Container, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = jwt(container, "alice")
    key = store_api_key(client, alice)
    env = {
        "AGENTGRAPH_ENCRYPTION_KEY": f"{NEW_KEY},{OLD_KEY}",
        "AGENTGRAPH_DATA_DIR": str(settings.data_dir),
        "JWT_VERIFY_KEY": JWT_KEY,
    }
    if settings.database_url:
        env["AGENTGRAPH_DATABASE_URL"] = settings.database_url
    else:
        monkeypatch.delenv("AGENTGRAPH_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["keys", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    assert "re-wrapped under new2: 1" in result.output

    for keys in (f"{NEW_KEY},{OLD_KEY}", NEW_KEY):  # the old master key may go once everything is re-wrapped
        rotated = build_container(settings.model_copy(update={"encryption_key": keys}), parts={Part.SECRETS})
        try:
            assert rotated.credentials.resolve("alice", {"id": key["id"]}).bearer_token == STORED_KEY
            assert {row.master_kid for row in rotated.credentials.vault.store.all_keys()} == {"new2"}
        finally:
            rotated.close()
    rotated = build_container(settings.model_copy(update={"encryption_key": NEW_KEY}), parts={Part.SECRETS})
    try:
        from domain.credentials import CredentialsMeta, CredentialsType

        rotated.credentials.create(CredentialsMeta("carol", "openai", CredentialsType.API_KEY), {"api_key": "c"})
        carol = [row for row in rotated.credentials.vault.store.all_keys() if row.user_id == "carol"]
        assert [row.master_kid for row in carol] == ["new2"]  # new data keys under the new kid
    finally:
        rotated.close()


def test_the_raw_secret_is_nowhere_at_rest_or_in_the_logs(
    client: TestClient, container: Container, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = jwt(container, "alice")
    key = store_api_key(client, alice)
    graph_id = llm_graph(client, alice, key)
    assert run(client, alice, graph_id)["status"] == "COMPLETED"
    client.delete(f"/api/integrations/openai/credentials/{key['id']}", headers=alice)
    assert run(client, alice, graph_id)["status"] == "FAILED"
    answers = [
        client.get(f"/api/graphs/{graph_id}/executions", headers=alice).text,
        client.get("/api/executions", headers=alice).text,
        client.get("/api/integrations/credentials", headers=alice).text,
    ]
    assert all(STORED_KEY not in answer for answer in answers)
    assert STORED_KEY not in caplog.text
    if settings.database_url:
        hits, tables = scan_postgres(settings.database_url, [STORED_KEY])
        assert any(name.endswith("accounts_events") for name in tables)
    else:
        files = sorted(settings.data_dir.glob("*.sqlite3*"))
        assert any(f.name == "accounts.sqlite3" for f in files)
        hits = scan_files(files, [STORED_KEY])
    assert hits == []
