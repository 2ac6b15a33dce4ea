"""On PostgreSQL a commit made by another process wakes this process's log followers (LISTEN/NOTIFY).

The safety poll is stretched to a minute, so a prompt delivery can only come
from the notification; and however many logs a process follows, it listens
on one connection.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.commit_signal import PostgresCommitSignal
from adapters.log_follower import LogFollower
from adapters.settings import Settings
from api.composition import Container, build_container
from projections.envelope import EventEnvelope
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "wakeup-test-key-" + "x" * 32


@pytest.fixture
def container(postgres_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    monkeypatch.setattr(PostgresCommitSignal, "idle_poll", 60.0)
    built = build_container(
        Settings(AGENTGRAPH_DATABASE_URL=postgres_dsn, JWT_VERIFY_KEY=JWT_KEY, AGENTGRAPH_DATA_DIR=tmp_path / "data")
    )
    yield built
    built.close()


def _listening_connections(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_a_graph_imported_by_another_process_reaches_a_waiting_follower_at_once(
    container: Container, postgres_dsn: str, tmp_path: Path
) -> None:
    batches: queue.Queue[list[EventEnvelope]] = queue.Queue()
    followers = [
        LogFollower(container.event_logs["graphs"], batches.put),
        LogFollower(container.event_logs["executions"], batches.put),
    ]
    for follower in followers:
        follower.start()
    try:
        time.sleep(1.0)  # both asleep at the (empty) heads of their logs
        assert _listening_connections(postgres_dsn) == 1  # one LISTEN connection for both logs

        export = tmp_path / "agent.json"
        export.write_text(json.dumps(calculator("from another process")))
        env = {**os.environ, "AGENTGRAPH_DATABASE_URL": postgres_dsn, "JWT_VERIFY_KEY": JWT_KEY}
        subprocess.run(
            [sys.executable, "-m", "api.cli", "agents", "import", str(export), "--user", "gus"],
            env=env,
            check=True,
            capture_output=True,
        )
        imported = time.monotonic()
        batch = batches.get(timeout=30)
        assert time.monotonic() - imported < 3.0  # woken by NOTIFY, not by the minute-long poll
        assert [event.context for event in batch] == ["graphs"]
    finally:
        for follower in followers:
            follower.stop()
    assert _listening_connections(postgres_dsn) == 0  # the connection closes with the last follower
