"""The agentgraph command line: dev tokens, the block table, agent import."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from adapters.settings import Settings
from api.cli import app
from api.composition import build_block_registry, build_container
from tests.unit.api.graph_samples import calculator

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("AGENTGRAPH_DATA_DIR", str(folder))
    for name in ("JWT_VERIFY_KEY", "AGENTGRAPH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return folder


def test_dev_token_is_accepted_by_the_key_the_server_uses(data_dir: Path) -> None:
    result = runner.invoke(app, ["dev-token", "alice", "--email", "a@example.com"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    key = (data_dir / "jwt-dev-secret").read_text().strip()
    claims = jwt.decode(token, key, algorithms=["HS256"], audience="authenticated")
    assert (claims["sub"], claims["email"], claims["role"]) == ("alice", "a@example.com", "user")
    # the same key is reused, never regenerated
    runner.invoke(app, ["dev-token", "bob"])
    assert (data_dir / "jwt-dev-secret").read_text().strip() == key


def test_dev_token_refuses_asymmetric_keys(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_VERIFY_KEY", "-----BEGIN PUBLIC KEY-----...")
    monkeypatch.setenv("JWT_ALGORITHM", "RS256")
    result = runner.invoke(app, ["dev-token", "alice"])
    assert result.exit_code == 2
    assert "cannot mint tokens with a RS256" in result.output


def test_blocks_lists_the_library(data_dir: Path) -> None:
    result = runner.invoke(app, ["blocks"], env={"COLUMNS": "400"})
    assert result.exit_code == 0
    assert "CalculatorBlock" in result.output and "AgentExecutorBlock" in result.output
    expected = len(build_block_registry(Settings()))
    assert expected >= 40
    assert f"{expected} blocks" in result.output


def test_agents_import_stores_a_graph_for_the_user(data_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "calc.json"
    export.write_text(json.dumps(calculator("From file")))
    result = runner.invoke(app, ["agents", "import", str(export), "--user", "carol"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "imported From file" in result.output
    graph_id = re.search(r"as graph ([0-9a-f-]{36}) v1", result.output)
    assert graph_id is not None, result.output
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=data_dir))
    try:
        stored = container.graphs.graph_for_run("carol", graph_id.group(1), 1)
    finally:
        container.close()
    assert stored.name == "From file"
    assert len(stored.nodes) == 3


def test_agents_import_prints_every_problem_of_an_invalid_graph(data_dir: Path, tmp_path: Path) -> None:
    body = calculator()
    body["nodes"][1]["block_id"] = "11111111-2222-3333-4444-555555555555"
    export = tmp_path / "bad.json"
    export.write_text(json.dumps(body))
    result = runner.invoke(app, ["agents", "import", str(export)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "Invalid block 11111111-2222-3333-4444-555555555555" in result.output


def test_agents_import_rejects_a_file_that_is_not_json(data_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "bad.json"
    export.write_text("{nope")
    result = runner.invoke(app, ["agents", "import", str(export)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "is not a graph export" in result.output


def test_db_init_projections_status_and_rebuild(data_dir: Path, tmp_path: Path) -> None:
    assert runner.invoke(app, ["db", "init"]).exit_code == 0
    export = tmp_path / "calc.json"
    export.write_text(json.dumps(calculator("Tracked")))
    assert runner.invoke(app, ["agents", "import", str(export), "--user", "dora"]).exit_code == 0

    status = runner.invoke(app, ["projections", "status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    graphs_row = next(line for line in status.output.splitlines() if "graphs" in line and "│ graphs" in line)
    assert "│ 0 " in graphs_row and "│ 1 " in graphs_row  # nothing applied yet, one event in the log

    rebuilt = runner.invoke(app, ["projections", "rebuild"], env={"COLUMNS": "200"})
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt graphs, executions, audit" in rebuilt.output
    after = runner.invoke(app, ["projections", "status"], env={"COLUMNS": "200"})
    graphs_row = next(line for line in after.output.splitlines() if "│ graphs" in line)
    assert graphs_row.count("│ 1 ") == 2  # applied = head = 1, lag 0
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=data_dir))
    try:
        assert [g.name for g in container.graph_queries.list_graphs("dora")] == ["Tracked"]
    finally:
        container.close()


def test_rebuild_of_an_unknown_projection_is_an_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["projections", "rebuild", "nope"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "no projection 'nope'" in result.output


def test_the_relay_role_needs_kafka(data_dir: Path) -> None:
    result = runner.invoke(app, ["serve", "--role", "relay"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "the relay needs" in result.output


@pytest.mark.parametrize(
    ("roles", "message"),
    [("scheduler", "the scheduler role comes with schedules"), ("api,cook", "unknown role(s) cook")],
)
def test_roles_this_build_cannot_run_are_refused(data_dir: Path, roles: str, message: str) -> None:
    result = runner.invoke(app, ["serve", "--role", roles], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_every_bounded_context_has_its_own_event_store(data_dir: Path) -> None:
    assert runner.invoke(app, ["db", "init"]).exit_code == 0
    assert sorted(p.name for p in data_dir.glob("*.sqlite3")) == [
        "accounts.sqlite3",
        "executions.sqlite3",
        "graphs.sqlite3",
        "read.sqlite3",
        "schedules.sqlite3",
        "store.sqlite3",
    ]
    status = runner.invoke(app, ["projections", "status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
