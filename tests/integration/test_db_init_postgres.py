"""Distributed workers start with table creation off: `agentgraph db init` makes the tables once."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app

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
    with psycopg.connect(postgres_dsn) as conn:
        for table in ("graphs_events", "executions_events", "read.executions", "read.audit_log"):
            assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() != (None,), table

    status = runner.invoke(app, ["projections", "status"], env=env)
    assert status.exit_code == 0 and "executions" in status.output
