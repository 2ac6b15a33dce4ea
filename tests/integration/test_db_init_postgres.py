"""Distributed workers start with table creation off: `agentgraph db init` makes the tables once."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

runner = CliRunner()


def test_workers_refuse_to_start_before_db_init_and_init_is_idempotent(postgres_dsn: str, tmp_path: Path) -> None:
    env = {
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "JWT_VERIFY_KEY": "db-init-" + "k" * 40,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }
    refused = runner.invoke(app, ["serve", "--role", "executor"], env=env)
    assert refused.exit_code == 2
    assert "run `agentgraph db init` first" in refused.output
    with psycopg.connect(postgres_dsn) as conn:  # the refused start created nothing
        assert conn.execute("SELECT to_regclass('graphs_events')").fetchone() == (None,)

    for _ in range(2):
        initialised = runner.invoke(app, ["db", "init"], env=env)
        assert initialised.exit_code == 0, initialised.output
    named = " ".join(initialised.stdout.split())
    with psycopg.connect(postgres_dsn) as conn:
        created = [
            f"{schema}.{table}" if schema == "read" else table
            for schema, table in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('public', 'read') AND table_type = 'BASE TABLE'"
            )
        ]
        tables = ("graphs_events", "executions_events", "accounts_events", "store_events", "schedules_events")
        for table in (*tables, "read.executions", "read.audit_log"):
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,), table
    assert len(created) > len(tables) + 5
    for table in created:  # db init names every table it made
        assert table in named, f"{table} not named in: {named}"

    status = runner.invoke(app, ["projections", "status"], env=env)
    assert status.exit_code == 0 and "executions" in status.output

    # rebuild and status against PostgreSQL: an imported graph shows up, and the lag is 0
    export = tmp_path / "calc.json"
    export.write_text(json.dumps(calculator("Rebuilt")))
    imported = runner.invoke(app, ["agents", "import", str(export), "--user", "erin"], env=env)
    assert imported.exit_code == 0, imported.output
    behind = runner.invoke(app, ["projections", "status"], env=env)
    assert _row(behind.output, "graphs") == ["graphs", "graphs", "0", "1", "1"]
    rebuilt = runner.invoke(app, ["projections", "rebuild", "graphs"], env=env)
    assert rebuilt.exit_code == 0 and "rebuilt graphs" in rebuilt.output, rebuilt.output
    after = runner.invoke(app, ["projections", "status"], env=env)
    assert _row(after.output, "graphs") == ["graphs", "graphs", "1", "1", "0"]
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT name, user_id FROM read.graphs").fetchall() == [("Rebuilt", "erin")]


def _row(table: str, projection: str) -> list[str]:
    """The first five cells of ``projection``'s row in the status table."""
    line = next(line for line in table.splitlines() if line.startswith(f"│ {projection} "))
    return [cell.strip() for cell in line.strip("│").split("│")][:5]
