"""A poison event in the store parks, and stops nobody (embedded ``agentgraph serve``, SQLite, real processes).

Issue 8's critical finding: one event a projection could not apply stopped
every read model of every user, for good. Now the projection parks it, the
executor fails a run it cannot load, and an operator lists and retries the
parked events with the CLI.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from typer.testing import CliRunner

import projections.graphs.projection as graphs_projection
from adapters.read_store import SQLiteReadStore
from adapters.settings import Settings
from api.cli import app
from api.composition import Part, build_container
from domain.agent_format import GraphPayload
from domain.event_types import type_name
from domain.execution import GraphExecution
from domain.graph import Graph
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx
from tests import poison
from tests.read_models import table_rows
from tests.serving import embedded_server
from tests.unit.api.graph_samples import calculator

WITHIN_A_SECOND = 1.0


@dataclasses.dataclass
class Poisoned:
    graph_id: str
    run_id: str


def _poison_the_store(data_dir: Path) -> Poisoned:
    """mallory's graph gets a version 2 without content; mallory's run a first event nested too deep to decode."""
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=data_dir), parts={Part.STORES})
    try:
        graph_id = container.graphs.create_graph("mallory", GraphPayload.model_validate(calculator("m"))).aggregate_id
        poison.graph_version_without_content(container.graphs, graph_id, 2)
        run_id = poison.run_nested_too_deep(container.executions, "mallory", str(graph_id))
    finally:
        container.close()
    return Poisoned(str(graph_id), str(run_id))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Poisoned]]:
    poisoned = _poison_the_store(tmp_path / "data")
    with embedded_server(tmp_path) as (base, env, _):
        yield base, env, poisoned


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True)


def _auth(env: dict[str, str], user: str) -> dict[str, str]:
    token = _cli(env, "dev-token", user).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def _dead_letters(env: dict[str, str]) -> list[dict[str, Any]]:
    listed = _cli(env, "projections", "dead-letters", "--json")
    assert listed.returncode == 0, listed.stderr
    letters: list[dict[str, Any]] = json.loads(listed.stdout)
    return letters


def _tail(log: Path, lines: int = 40) -> str:
    """The server's last words, for a failing assertion (a projection's retries show there)."""
    return "\n".join(line[:300] for line in log.read_text().splitlines()[-lines:])


def test_a_poison_event_is_parked_and_every_other_user_reads_on(
    server: tuple[str, dict[str, str], Poisoned], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, env, poisoned = server
    bob, mallory = _auth(env, "bob"), _auth(env, "mallory")

    # the server parks both poisons as it starts (each after its retries: 0.2 s, then 0.4 s)
    deadline = time.monotonic() + 30
    expected = {("graphs", poisoned.graph_id), ("executions", poisoned.run_id)}
    while not expected <= {(d["projection"], d["aggregate_id"]) for d in _dead_letters(env)}:
        assert time.monotonic() < deadline, _dead_letters(env)
        time.sleep(0.2)

    # from then on, bob's graph and run are readable within a second: the poisons stop nobody
    created = httpx.post(f"{base}/api/graphs", json={"graph": calculator("bob's")}, headers=bob, timeout=10)
    assert created.status_code == 200, created.text
    graph_id = created.json()["id"]
    started = httpx.post(f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 8}}, headers=bob)
    assert started.status_code == 200, started.text
    run_id = started.json()["id"]
    asked = time.monotonic()
    while True:
        graph = httpx.get(f"{base}/api/graphs/{graph_id}", headers=bob)
        run = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=bob)
        if graph.status_code == run.status_code == 200:
            break
        assert time.monotonic() - asked < WITHIN_A_SECOND, (graph.text, run.text, _tail(tmp_path / "serve.log"))
        time.sleep(0.02)
    assert "parked_events" not in graph.json() and "parked_events" not in run.json()
    deadline = time.monotonic() + 30
    while run.json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, run.text
        time.sleep(0.1)
        run = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=bob)
    assert run.json()["outputs"] == {"Output": [42.0]}

    # the operator sees both poisons with the CLI; mallory's run, which no executor can load, was failed
    deadline = time.monotonic() + 30
    while True:
        letters = _dead_letters(env)
        parked = {(d["projection"], d["aggregate_id"], d["event_type"]): d for d in letters}
        if ("executions", poisoned.run_id, type_name(GraphExecution.Failed)) in parked:
            break
        assert time.monotonic() < deadline, letters
        time.sleep(0.2)
    version_2 = parked[("graphs", poisoned.graph_id, type_name(Graph.VersionCreated))]
    assert "KeyError" in version_2["error"] and "content" in version_2["error"]
    assert version_2["attempts"] >= 3 and version_2["held_behind"] is None
    requested = parked[("executions", poisoned.run_id, type_name(GraphExecution.Requested))]
    assert "does not decode" in requested["error"]
    queued = parked[("executions", poisoned.run_id, type_name(GraphExecution.Queued))]
    assert queued["held_behind"] == requested["log_position"]  # the run's order is kept
    table = _cli(env, "projections", "dead-letters")
    assert table.returncode == 0 and str(version_2["id"]) in table.stdout and "parked event(s)" in table.stdout
    log = (tmp_path / "serve.log").read_text()
    assert log.count(f"execution {poisoned.run_id} the run's stored events cannot be loaded") == 1  # once

    # the pipeline metrics count them
    admin = {"Authorization": "Bearer " + _cli(env, "dev-token", "ops", "--admin").stdout.strip()}
    metrics = httpx.get(f"{base}/api/admin/metrics/pipeline", headers=admin).json()
    assert metrics["projections"]["graphs"]["graphs"]["parked"] == 1
    assert metrics["projections"]["executions"]["executions"]["parked"] >= 3  # requested, queued, failed

    # mallory's graph still reads, at version 1, and says that an event of it is parked
    graph = httpx.get(f"{base}/api/graphs/{poisoned.graph_id}", headers=mallory)
    assert graph.status_code == 200, graph.text
    assert (graph.json()["version"], graph.json()["parked_events"]) == (1, 1)

    # a release that reads a version without content as an empty graph: the retry applies it once
    handlers = graphs_projection._HANDLERS._by_name
    original = handlers[type_name(Graph.VersionCreated)]

    def fixed(tx: ReadModelTx, event: EventEnvelope) -> None:
        original(tx, dataclasses.replace(event, data={"content": {}, **event.data}))

    monkeypatch.setitem(handlers, type_name(Graph.VersionCreated), fixed)
    monkeypatch.setenv("AGENTGRAPH_DATA_DIR", env["AGENTGRAPH_DATA_DIR"])
    monkeypatch.delenv("AGENTGRAPH_DATABASE_URL", raising=False)
    retried = CliRunner().invoke(app, ["projections", "retry", str(version_2["id"])])
    assert retried.exit_code == 0, retried.output
    assert "1 applied, 0 still failing" in retried.stdout
    again = CliRunner().invoke(app, ["projections", "retry", str(version_2["id"])])
    assert "0 applied, 0 still failing" in again.stdout
    graph = httpx.get(f"{base}/api/graphs/{poisoned.graph_id}", headers=mallory)
    assert graph.json()["version"] == 2 and "parked_events" not in graph.json()
    store = SQLiteReadStore(Path(env["AGENTGRAPH_DATA_DIR"]) / "read.sqlite3")
    try:
        rows = {row["graph_id"]: row for row in table_rows(store, "graphs", "graph_id")}
    finally:
        store.close()
    assert (rows[poisoned.graph_id]["latest_version"], rows[poisoned.graph_id]["change_count"]) == (2, 2)
    assert UUID(poisoned.graph_id) and not any(d["aggregate_id"] == poisoned.graph_id for d in _dead_letters(env))
