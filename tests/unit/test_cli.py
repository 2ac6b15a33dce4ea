"""The agentgraph command line: dev tokens, the block table, agent import."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jwt
import pytest
from typer.testing import CliRunner

from adapters.jwt_keys import load_jwt_config
from adapters.settings import Settings
from api.bootstrap import build_for
from api.cli import app
from api.composition import PartNotBuiltError, build_block_registry, build_container
from projections.registry import all_projections
from tests.signing_keys import rsa_pair
from tests.unit.api.graph_samples import calculator

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "examples" / "calculator.json"


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
    token = result.stdout.strip()
    assert result.stderr.strip() == f"signed with the dev key in {data_dir / 'jwt-dev-secret'}"
    key = (data_dir / "jwt-dev-secret").read_text().strip()
    claims = jwt.decode(token, key, algorithms=["HS256"], audience="authenticated")
    assert (claims["sub"], claims["email"], claims["role"]) == ("alice", "a@example.com", "user")
    # the same key is reused, never regenerated
    runner.invoke(app, ["dev-token", "bob"])
    assert (data_dir / "jwt-dev-secret").read_text().strip() == key


def test_dev_token_refuses_asymmetric_keys(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_VERIFY_KEY", rsa_pair().public_pem)
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


def test_agents_import_refuses_an_export_over_the_json_limits_and_stores_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    body = calculator()
    deep: Any = 1
    for _ in range(230):
        deep = {"x": deep}
    body["nodes"][1]["input_default"]["b"] = deep
    export = tmp_path / "deep.json"
    export.write_text(json.dumps(body))
    result = runner.invoke(app, ["agents", "import", str(export)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "nests deeper than 64 levels" in result.output
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=data_dir))
    try:
        assert not container.graphs.recorder.max_notification_id()
    finally:
        container.close()


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
    [("api,cook", "unknown role(s) cook")],
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
        "keys.sqlite3",  # the users' wrapped data keys, beside the accounts store (deletable: crypto-shredding)
        "read.sqlite3",
        "schedules.sqlite3",
        "store.sqlite3",
    ]
    status = runner.invoke(app, ["projections", "status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output


def test_dev_token_and_serve_find_the_same_key_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AGENTGRAPH_DATA_DIR", "JWT_VERIFY_KEY", "AGENTGRAPH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the per-user data folder, here
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    minted = runner.invoke(app, ["dev-token", "alice"])
    assert minted.exit_code == 0, minted.output
    key_file = tmp_path / "xdg" / "agentgraph" / "jwt-dev-secret"
    assert minted.stderr.strip() == f"signed with the dev key in {key_file}"
    monkeypatch.chdir(tmp_path / "two")
    served_key = load_jwt_config(Settings(), create=False)  # what `serve` verifies with, started elsewhere
    assert jwt.decode(minted.stdout.strip(), served_key.verify_key, algorithms=["HS256"], audience="authenticated")
    assert not list((tmp_path / "one").iterdir()) and not list((tmp_path / "two").iterdir())


@pytest.mark.parametrize("command", [["serve"], ["dev-token", "alice"], ["db", "init"], ["blocks"]])
def test_a_bad_environment_value_is_one_line_naming_it(data_dir: Path, command: list[str]) -> None:
    result = runner.invoke(app, command, env={"AGENTGRAPH_PORT": "abc", "COLUMNS": "80"})
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: bad environment variable: AGENTGRAPH_PORT='abc': Input should be")


def test_version_is_the_installed_distribution_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"agentgraph {version('agentgraph')}\n"


def test_blocks_as_json_and_the_table_keep_every_id_whole(data_dir: Path) -> None:
    registry = build_block_registry(Settings())
    listed = runner.invoke(app, ["blocks", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert {row["id"] for row in rows} == {block.id for block in registry.all()}
    calculator_row = next(row for row in rows if row["name"] == "CalculatorBlock")
    assert calculator_row["inputs"] == ["a", "b", "operation", "round_result"]
    assert calculator_row["outputs"] == ["error", "result"]
    narrow = runner.invoke(app, ["blocks"], env={"COLUMNS": "100"})
    assert narrow.exit_code == 0
    missing = [block.id for block in registry.all() if block.id not in narrow.stdout]
    assert not missing, f"ids cut in a 100-column table: {missing}"


def test_agents_export_prints_what_was_imported_in_autogpts_export_shape(data_dir: Path) -> None:
    example = json.loads(EXAMPLE.read_text())
    imported = runner.invoke(app, ["agents", "import", str(EXAMPLE), "--user", "carol"], env={"COLUMNS": "300"})
    assert imported.exit_code == 0, imported.output
    graph_id = imported.stdout.split(" as graph ")[1].split()[0]

    exported = runner.invoke(app, ["agents", "export", graph_id, "--user", "carol"])
    assert exported.exit_code == 0, exported.output
    export = json.loads(exported.stdout)
    assert (export["id"], export["version"], export["name"]) == (graph_id, 1, example["name"])
    assert sorted((n["block_id"], json.dumps(n["input_default"], sort_keys=True)) for n in export["nodes"]) == sorted(
        (n["block_id"], json.dumps(n["input_default"], sort_keys=True)) for n in example["nodes"]
    )
    assert len(export["links"]) == 3 and {"input_links", "output_links", "graph_id"} <= set(export["nodes"][0])
    assert sorted(export["input_schema"]["properties"]) == ["a", "b"]

    # what was exported imports again (a round trip through AutoGPT's format)
    again = data_dir.parent / "again.json"
    again.write_text(exported.stdout)
    assert runner.invoke(app, ["agents", "import", str(again), "--user", "carol"]).exit_code == 0

    for args in (["--user", "dave"], ["--user", "carol", "--version", "2"]):
        refused = runner.invoke(app, ["agents", "export", graph_id, *args], env={"COLUMNS": "300"})
        assert refused.exit_code == 1 and refused.stdout == ""
        assert "not found" in refused.stderr or "no version 2" in refused.stderr, refused.stderr


def test_db_init_names_every_store_it_creates(data_dir: Path) -> None:
    result = runner.invoke(app, ["db", "init"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in data_dir.glob("*.sqlite3"))
    assert len(files) == 7
    named = " ".join(result.stdout.split())
    for name in files:
        assert name in named
    for table in ("read.projection_positions", "read.graphs", "read.graph_versions", "read.executions"):
        assert table in named
    for projection in all_projections():
        for table in projection.tables:
            assert f"read.{table.name}" in named


def test_each_role_builds_only_the_parts_it_needs(data_dir: Path) -> None:
    settings = Settings()
    executor = build_for(["executor"], settings)
    try:
        assert executor.executions and executor.graphs
        with pytest.raises(PartNotBuiltError, match="read-model store"):
            _ = executor.read_store
        with pytest.raises(PartNotBuiltError, match="JWT"):
            _ = executor.jwt
    finally:
        executor.close()
    assert not (data_dir / "read.sqlite3").exists() and not (data_dir / "jwt-dev-secret").exists()
    # the executor opens a node's credentials from the accounts store (only the relay, projector and API read every log)
    assert (data_dir / "accounts.sqlite3").exists() and not (data_dir / "store.sqlite3").exists()

    projector = build_for(["projector"], settings)
    try:
        assert set(projector.event_logs) == {"graphs", "executions", "accounts", "store", "schedules"}
        with pytest.raises(PartNotBuiltError):
            _ = projector.jwt
    finally:
        projector.close()
    assert (data_dir / "read.sqlite3").exists() and not (data_dir / "jwt-dev-secret").exists()

    api = build_for(["api"], settings)
    api.close()
    assert (data_dir / "jwt-dev-secret").exists()
