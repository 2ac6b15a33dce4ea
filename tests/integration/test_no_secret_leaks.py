"""No raw secret leaks, embedded (SQLite) and distributed (PostgreSQL + Kafka, every role its own process).

Two known secrets are written: an OpenAI key stored through
``POST /api/integrations/openai/credentials`` and the value given to a
``secret`` input node when a run starts. The run's graph embeds the secret
input in a prompt (a text template) for an LLM node that uses the stored
credentials, and also outputs the secret input as it is. Then every place a
secret could land is searched for the raw secrets: every events table,
every read-model table (every table of the database, or the SQLite files),
every Kafka message of every topic (distributed), every answer of the run's
routes (run, node executions, external API results, SSE frames) and the
logs (caplog at DEBUG; the processes' log files when distributed): no hit.
And both were read back at run time: the fake OpenAI server received the
stored key as bearer token and the secret input, in clear, in the prompt.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Part, build_container
from domain.secret_inputs import MASK
from tests.fakes.openai_server import FakeOpenAIServer
from tests.secret_scan import scan_files, scan_kafka, scan_postgres, scan_text
from tests.serving import Processes
from tests.unit.api.conftest import SessionClient

pytestmark = pytest.mark.integration

JWT_KEY = "no-secret-leaks-" + "k" * 40
MASTER_KEY = "leak1:" + base64.b64encode(b"m" * 32).decode()
STORED_KEY = "sk-leaktest-" + "q9z" * 10
SECRET_INPUT = "open-sesame-" + "v4w" * 8
SECRETS = (STORED_KEY, SECRET_INPUT)
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
LLM = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"


class Client(Protocol):
    def get(self, url: str, *, headers: dict[str, str]) -> Any: ...
    def post(self, url: str, *, json: Any, headers: dict[str, str]) -> Any: ...


def graph(credentials: dict[str, Any]) -> dict[str, Any]:
    reference = {k: credentials[k] for k in ("id", "provider", "type", "title")}
    return {
        "name": "secret prompt",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "passphrase", "secret": True}},
            {"id": "fmt", "block_id": TEMPLATE, "input_default": {"format": "Say {{pass}} back, please"}},
            {"id": "llm", "block_id": LLM, "input_default": {"model": "gpt-4o-mini", "credentials": reference}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "answer"}},
            {"id": "given", "block_id": OUTPUT, "input_default": {"name": "given"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "fmt", "source_name": "result", "sink_name": "values_#_pass"},
            {"source_id": "fmt", "sink_id": "llm", "source_name": "output", "sink_name": "prompt"},
            {"source_id": "llm", "sink_id": "out", "source_name": "response", "sink_name": "value"},
            {"source_id": "in", "sink_id": "given", "source_name": "result", "sink_name": "value"},
        ],
    }


def run_and_collect(client: Client, user: dict[str, str], fake_openai: FakeOpenAIServer) -> list[str]:
    """Store the credential, run the graph with the secret input; every answer of the run's routes."""
    stored = client.post(
        "/api/integrations/openai/credentials",
        json={"type": "api_key", "title": "leak test", "api_key": STORED_KEY},
        headers=user,
    )
    assert stored.status_code == 201, stored.text
    created = client.post("/api/graphs", json={"graph": graph(stored.json())}, headers=user)
    assert created.status_code == 200, created.text
    graph_id = created.json()["id"]
    started = client.post(
        f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"passphrase": SECRET_INPUT}}, headers=user
    )
    assert started.status_code == 200, started.text
    run_id = started.json()["id"]
    assert started.json()["inputs"] == {"passphrase": MASK}
    deadline = time.monotonic() + 90
    while True:
        answer = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=user)
        if answer.status_code == 200 and answer.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            break
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)
    run = answer.json()
    assert run["status"] == "COMPLETED", json.dumps(run)

    # read back at run time: the stored key as bearer token, the secret input in clear in the prompt
    [call] = [r for r in fake_openai.requests if SECRET_INPUT in json.dumps(r.body)]
    assert call.headers["authorization"] == f"Bearer {STORED_KEY}"
    assert f"Say {SECRET_INPUT} back" in json.dumps(call.body)

    # what the answers show instead: the mask, for the value as given and inside derived outputs
    assert run["inputs"] == {"passphrase": MASK}
    assert run["outputs"]["given"] == [MASK]
    assert run["outputs"]["answer"] == [f"Echo: Say {MASK} back, please"]
    nodes = {n["block_id"]: n for n in run["node_executions"]}  # node ids are fresh: one node per block here
    assert nodes[INPUT]["input_data"]["value"] == MASK and nodes[INPUT]["output_data"]["result"] == [MASK]
    assert nodes[TEMPLATE]["output_data"]["output"] == [f"Say {MASK} back, please"]

    key = client.post("/api/api-keys", json={"name": "leaks", "permissions": ["READ_GRAPH"]}, headers=user)
    assert key.status_code == 200, key.text
    raw = key.json()["plain_text_key"]
    results = client.get(f"/external-api/v1/graphs/{graph_id}/executions/{run_id}/results", headers={"X-API-Key": raw})
    assert results.status_code == 200, results.text
    events = client.get(f"/api/executions/{run_id}/events", headers=user)
    assert events.status_code == 200 and MASK in events.text, events.text
    answers = [
        started.text,
        answer.text,
        results.text,
        events.text,
        client.get(f"/api/graphs/{graph_id}/executions", headers=user).text,
        client.get("/api/executions", headers=user).text,
        client.get("/api/integrations/credentials", headers=user).text,
        client.get(f"/api/graphs/{graph_id}/export", headers=user).text,
    ]
    return answers


@pytest.fixture
def fake_openai_env(fake_openai: FakeOpenAIServer) -> dict[str, str]:
    return {"AGENTGRAPH_LLM_BASE_URL": fake_openai.base_url, "AGENTGRAPH_LLM_API_KEY": "sk-env-not-used"}


def test_no_secret_leaks_embedded(
    tmp_path: Path, fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(
        JWT_VERIFY_KEY=JWT_KEY,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        AGENTGRAPH_ENCRYPTION_KEY=MASTER_KEY,
        AGENTGRAPH_LLM_BASE_URL=fake_openai.base_url,
    )
    container = build_container(settings)
    try:
        with SessionClient(create_app(container, run_executor=True, run_projector=True)) as client:
            user = {"Authorization": f"Bearer {mint_token(container.jwt, 'alice')}"}
            answers = run_and_collect(client, user, fake_openai)
    finally:
        container.close()
    hits = [hit for i, text in enumerate(answers) for hit in scan_text(f"answer {i}", text, SECRETS)]
    files = sorted(settings.data_dir.glob("*.sqlite3*"))
    assert {"executions.sqlite3", "accounts.sqlite3"} <= {f.name for f in files}
    hits += scan_files(files, SECRETS)
    hits += scan_text("caplog", caplog.text, SECRETS)
    assert hits == []


@pytest.fixture
def env(
    postgres_dsn: str, kafka_bootstrap: str, kafka_topic_prefix: str, tmp_path: Path, fake_openai: FakeOpenAIServer
) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTGRAPH_")},
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "AGENTGRAPH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "AGENTGRAPH_KAFKA_TOPIC_PREFIX": kafka_topic_prefix.rstrip("."),
        "AGENTGRAPH_KAFKA_PARTITIONS": "2",
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_ENCRYPTION_KEY": MASTER_KEY,
        "AGENTGRAPH_LLM_BASE_URL": fake_openai.base_url,
        "JWT_VERIFY_KEY": JWT_KEY,
        "COLUMNS": "400",
    }


@pytest.fixture
def http(env: dict[str, str], processes: Processes) -> Iterator[httpx.Client]:
    init = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    for role in ("relay", "projector", "executor"):
        processes.start(role, env)
    for role in ("relay", "projector", "executor"):
        processes.wait_for_line(role, f"running: {role}")
    base = processes.serve("api", env)
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client


def test_no_secret_leaks_distributed(
    env: dict[str, str],
    http: httpx.Client,
    processes: Processes,
    fake_openai: FakeOpenAIServer,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(**{k: v for k, v in env.items() if k.startswith(("AGENTGRAPH_", "JWT_"))})
    container = build_container(settings, parts={Part.JWT})
    try:
        user = {"Authorization": f"Bearer {mint_token(container.jwt, 'alice')}"}
    finally:
        container.close()
    answers = run_and_collect(http, user, fake_openai)
    time.sleep(1)  # the relay and projector finish the run's last events
    processes.stop_all()  # logs complete, files flushed

    hits = [hit for i, text in enumerate(answers) for hit in scan_text(f"answer {i}", text, SECRETS)]
    table_hits, tables = scan_postgres(env["AGENTGRAPH_DATABASE_URL"], SECRETS)
    assert {"executions_events", "accounts_events"} <= {t.split(".")[-1] for t in tables}
    assert any(t.startswith("read.") for t in tables), tables
    hits += table_hits
    kafka_hits, messages = scan_kafka(env["AGENTGRAPH_KAFKA_BOOTSTRAP"], env["AGENTGRAPH_KAFKA_TOPIC_PREFIX"], SECRETS)
    assert messages > 10
    hits += kafka_hits
    hits += scan_files(sorted(tmp_path.glob("*.log")), SECRETS)
    hits += scan_files(sorted((tmp_path / "data").glob("*")), SECRETS)
    hits += scan_text("caplog", caplog.text, SECRETS)
    assert hits == []


def test_a_run_needing_a_secret_input_of_a_shredded_user_fails_clearly(tmp_path: Path) -> None:
    settings = Settings(
        JWT_VERIFY_KEY=JWT_KEY, AGENTGRAPH_DATA_DIR=tmp_path / "data", AGENTGRAPH_ENCRYPTION_KEY=MASTER_KEY
    )
    container = build_container(settings)
    try:
        with SessionClient(create_app(container, run_executor=False, run_projector=True)) as client:
            user = {"Authorization": f"Bearer {mint_token(container.jwt, 'alice')}"}
            admin = {"Authorization": f"Bearer {mint_token(container.jwt, 'root', role='admin')}"}
            body = {
                "name": "g",
                "nodes": [graph({"id": "x", "provider": "openai", "type": "api_key", "title": ""})["nodes"][0]],
            }
            graph_id = client.post("/api/graphs", json={"graph": body}, headers=user).json()["id"]
            started = client.post(
                f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"passphrase": "p"}}, headers=user
            )
            assert started.status_code == 200, started.text
            assert client.delete("/api/admin/users/alice/secrets", headers=admin).status_code == 200
        with SessionClient(create_app(container, run_executor=True, run_projector=True)) as client:
            deadline = time.monotonic() + 30
            while (run := client.get(f"/api/graphs/{graph_id}/executions/{started.json()['id']}", headers=user).json())[
                "status"
            ] not in ("COMPLETED", "FAILED"):
                assert time.monotonic() < deadline, run
                time.sleep(0.1)
    finally:
        container.close()
    assert run["status"] == "FAILED"
    said = json.dumps(run)  # the run's error: the input's name and why, never a secret
    assert "Secret input 'passphrase'" in said and "secrets of user #alice were erased" in said, said
