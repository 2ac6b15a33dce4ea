"""Two real ``agentgraph serve --role scheduler`` processes on PostgreSQL: kill -9 the active one, the standby
takes over, and every tick starts exactly one run.

The active scheduler fires a real minute boundary (a ``* * * * *`` schedule:
the test waits for one boundary, up to a minute) and is killed with SIGKILL
the moment the tick's run exists, whether or not it recorded the tick. The
standby takes the advisory lock, records the tick if it was not, and fires a
schedule that fell due while no scheduler was active (its one late run).
Runs are counted per tick from the executions log: one each.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.utils import get_topic

from adapters.settings import Settings
from api.composition import Container, Part, build_container
from domain.agent_format import GraphPayload
from domain.cron import CronSchedule
from domain.execution import GraphExecution
from domain.schedule import Misfire, Schedule, run_id_for
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

MASTER_KEY = "failover1:" + base64.b64encode(b"f" * 32).decode()


@pytest.fixture
def scheduler_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "AGENTGRAPH_ENCRYPTION_KEY": MASTER_KEY}


@pytest.fixture
def platform(scheduler_env: dict[str, str]) -> Iterator[Container]:
    built = build_container(
        Settings(
            AGENTGRAPH_DATABASE_URL=scheduler_env["AGENTGRAPH_DATABASE_URL"],
            JWT_VERIFY_KEY=scheduler_env["JWT_VERIFY_KEY"],
            AGENTGRAPH_DATA_DIR=Path(scheduler_env["AGENTGRAPH_DATA_DIR"]),
            AGENTGRAPH_ENCRYPTION_KEY=MASTER_KEY,
        ),
        parts={Part.LOGS},  # the event stores only: few connections beside the two schedulers' (a shared server)
    )
    yield built
    built.close()


def scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--role", "scheduler"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def until(condition: Callable[[], Any], what: str, logs: list[Path], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}:\n" + "\n".join(p.read_text() for p in logs))
        time.sleep(0.05)
    return result


def lock_holder(conn: psycopg.Connection[Any]) -> str | None:
    """The application name of the session holding an advisory lock of this database (the active scheduler)."""
    row = conn.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return str(row[0]) if row else None


def save_schedule(container: Container, graph_id: str, created_at: datetime) -> Schedule:
    schedule = Schedule.create(
        schedule_id=uuid4(),
        user_id="alice",
        graph_id=graph_id,
        graph_version=1,
        name="every minute",
        when=CronSchedule.parse("* * * * *", "UTC"),
        misfire=Misfire.COALESCE,
        input_data={"Input": 8},
        input_credentials={},
        created_at=created_at,
    )
    container.schedules.save(schedule)
    return schedule


def last_tick(container: Container, schedule: Schedule) -> str | None:
    loaded = container.schedules.load(schedule.id)
    return loaded.last_tick if loaded is not None else None


def requested_runs(container: Container) -> list[str]:
    topic = get_topic(GraphExecution.Requested)
    return [e.aggregate_id for e in container.event_logs["executions"].read(0, 10_000, [topic])]


def test_the_standby_takes_over_after_kill_9_and_each_tick_fires_once(
    platform: Container, scheduler_env: dict[str, str], tmp_path: Path
) -> None:
    container = platform
    admin = psycopg.connect(scheduler_env["AGENTGRAPH_DATABASE_URL"], autocommit=True)
    graph_id = str(container.graphs.create_graph("alice", GraphPayload.model_validate(calculator())).aggregate_id)
    every_minute = save_schedule(container, graph_id, datetime.now(UTC))
    tick = every_minute.next_run_time()
    logs = [tmp_path / "scheduler-a.log", tmp_path / "scheduler-b.log"]
    first = scheduler(scheduler_env, logs[0])
    second: subprocess.Popen[bytes] | None = None
    try:
        until(lambda: lock_holder(admin) == f"agentgraph-scheduler-{first.pid}", "the first scheduler is active", logs)
        second = scheduler(scheduler_env, logs[1])
        until(lambda: "running: scheduler" in logs[1].read_text(), "the second scheduler waits", logs)
        assert lock_holder(admin) == f"agentgraph-scheduler-{first.pid}"

        # the minute boundary: the active scheduler starts the tick's run; killed at once
        until(lambda: container.executions.load(run_id_for(every_minute.id, tick)), "the tick's run exists", logs)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        # due while no scheduler is active: the standby fires it once it takes over
        overdue = save_schedule(container, graph_id, datetime.now(UTC) - timedelta(minutes=5))
        until(lambda: lock_holder(admin) == f"agentgraph-scheduler-{second.pid}", "the standby is active", logs)
        late = until(lambda: last_tick(container, overdue), "the overdue schedule fired", logs)
        recorded = until(lambda: last_tick(container, every_minute), "the tick is recorded", logs)
        assert second.poll() is None
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        admin.close()

    assert datetime.fromisoformat(recorded) >= tick
    late_tick = datetime.fromisoformat(late)
    runs = requested_runs(container)
    assert len(runs) == len(set(runs))  # one Requested event per run
    expected = {str(run_id_for(overdue.id, late_tick))}
    fired = container.schedules.load(every_minute.id)
    assert fired is not None
    last = datetime.fromisoformat(fired.last_tick or "")
    ticks = [tick + timedelta(minutes=n) for n in range(5) if tick + timedelta(minutes=n) <= last]
    expected |= {str(run_id_for(every_minute.id, t)) for t in ticks}
    assert set(runs) == expected, "each tick starts exactly one run"
