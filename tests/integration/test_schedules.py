"""Schedules through HTTP, in each mode: embedded (SQLite), on PostgreSQL, on PostgreSQL with Kafka.

The stories: make, list and delete schedules with AutoGPT's routes and
shapes (another user sees none of them and deletes none); what is refused
(bad cron or zone: 422 with the reason; a graph one cannot run: 404; a
missing input: 400, as a run) records nothing; a due schedule fires with its
inputs and its run completes; a tick whose run was started before a crash
(the tick not recorded) starts no second run when fired again; deleting a
graph ends its schedules at once. The scheduler runs in process on a test
clock (``SchedulerService(container, clock=...)``), so no test waits for a
real minute. The read model after each story equals a rebuild.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from adapters.event_log import reader
from adapters.read_store import rebuild_projection
from api.app import create_app
from api.auth import mint_token
from api.bootstrap import SchedulerService
from api.composition import Container, build_container
from api.routers import schedules as schedules_router
from domain.schedule import run_id_for
from domain.secret_inputs import MASK, OpenedSecrets
from projections.registry import projection_named
from tests.integration.conftest import Mode
from tests.read_models import table_rows
from tests.secret_scan import scan_files
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import INPUT, OUTPUT, calculator

pytestmark = pytest.mark.integration

JWT_KEY = "schedules-test-key-" + "k" * 32
MASTER_KEY = "sched1:" + base64.b64encode(b"s" * 32).decode()
WAIT_SECONDS = 60.0


class TestClock:
    """The scheduler's clock in these tests: moved by hand."""

    __test__ = False

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


Platform = tuple[Container, TestClient, TestClock]


@pytest.fixture
def platform(mode: Mode) -> Iterator[Platform]:
    """API, executor and projector in the test's mode, and the scheduler on a test clock; a rebuild check at the end."""
    container = build_container(mode.settings(JWT_VERIFY_KEY=JWT_KEY, AGENTGRAPH_ENCRYPTION_KEY=MASTER_KEY))
    clock = TestClock()
    scheduler = SchedulerService(container, clock=clock)
    client = SessionClient(
        create_app(container, run_executor=True, run_projector=True, run_relay=mode.kafka, run_scheduler=False)
    )
    client.__enter__()
    asyncio.run(scheduler.start())
    try:
        until(lambda: scheduler.scheduler.active.is_set(), "the scheduler is active")
        yield container, client, clock
        live = schedule_rows(container)
    finally:
        asyncio.run(scheduler.stop())
        client.__exit__(None, None, None)
    try:
        rebuild_projection(container.read_store, projection_named("schedules"), reader(container.event_logs))
        assert schedule_rows(container) == live
    finally:
        container.close()


def schedule_rows(container: Container) -> list[dict[str, Any]]:
    return table_rows(container.read_store, "schedules", "schedule_id")


def until(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)
    return result


def jwt(container: Container, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user)}"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def new_graph(client: TestClient, user: dict[str, str], name: str = "Calculator") -> str:
    graph_id: str = ok(client.post("/api/graphs", json={"graph": calculator(name)}, headers=user))["id"]
    return graph_id


def schedule_body(**fields: Any) -> dict[str, Any]:
    return {"name": "weekly", "cron": "0 9 * * 1", "inputs": {"Input": 8}, "credentials": {}, **fields}


def listed(client: TestClient, user: dict[str, str], path: str = "/api/schedules", token: str = "") -> list[Any]:
    headers = {**user, "X-Consistency-Token": token} if token else user
    answer: list[Any] = ok(client.get(path, headers=headers))
    return answer


def test_make_list_and_delete_schedules_with_autogpts_shapes(platform: Platform) -> None:
    container, client, _ = platform
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    graph_id, other_graph = new_graph(client, alice), new_graph(client, alice, "Other")
    made = client.post(
        f"/api/graphs/{graph_id}/schedules",
        json=schedule_body(timezone="Europe/Paris", credentials={"c": {"id": "x", "provider": "p", "api_key": "no"}}),
        headers=alice,
    )
    job = ok(made)
    assert set(job) == {
        "user_id",
        "graph_id",
        "graph_version",
        "cron",
        "input_data",
        "input_credentials",
        "id",
        "name",
        "next_run_time",
        "timezone",
    }
    assert (job["user_id"], job["graph_id"], job["graph_version"], job["cron"]) == ("alice", graph_id, 1, "0 9 * * 1")
    assert job["input_data"] == {"Input": 8} and job["input_credentials"] == {"c": {"id": "x", "provider": "p"}}
    assert job["timezone"] == "Europe/Paris" and job["name"] == "weekly"
    next_run = datetime.fromisoformat(job["next_run_time"])
    assert next_run.utcoffset() in (timedelta(hours=1), timedelta(hours=2))  # in the schedule's zone
    assert next_run.astimezone(UTC).weekday() == 0 and next_run.hour == 9 and next_run > datetime.now(UTC)
    second = client.post(f"/api/graphs/{other_graph}/schedules", json=schedule_body(name="b"), headers=alice)
    everything = listed(client, alice, token=second.headers["X-Consistency-Token"])
    assert sorted(j["id"] for j in everything) == sorted([job["id"], second.json()["id"]])
    mine = next(j for j in everything if j["id"] == job["id"])
    assert mine == {**job, "next_run_time": next_run.astimezone(UTC).isoformat()}  # lists answer UTC
    assert [j["id"] for j in listed(client, alice, f"/api/graphs/{graph_id}/schedules")] == [job["id"]]
    assert listed(client, bob) == [] and listed(client, bob, f"/api/graphs/{graph_id}/schedules") == []

    refused = client.delete(f"/api/schedules/{job['id']}", headers=bob)
    assert refused.status_code == 404 and refused.json()["detail"] == f"Schedule #{job['id']} not found"
    deleted = client.delete(f"/api/schedules/{job['id']}", headers=alice)
    assert ok(deleted) == {"id": job["id"]}
    after = listed(client, alice, token=deleted.headers["X-Consistency-Token"])
    assert [j["id"] for j in after] == [second.json()["id"]]
    again = client.delete(f"/api/schedules/{job['id']}", headers=alice)
    assert again.status_code == 404 and again.json()["code"] == "schedule_not_found"
    assert client.delete("/api/schedules/not-a-uuid", headers=alice).status_code == 404


@pytest.mark.parametrize("mode", ["sqlite"], indirect=True)
def test_what_could_never_run_is_refused_and_nothing_is_recorded(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    container, client, _ = platform
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    graph_id = new_graph(client, alice)
    path = f"/api/graphs/{graph_id}/schedules"
    for fields, reason in [
        ({"cron": "* * * *"}, "Wrong number of fields; got 4, expected 5"),
        ({"cron": "0 25 * * *"}, "Invalid cron expression '0 25 * * *'"),
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
    ]:
        refused = client.post(path, json=schedule_body(**fields), headers=alice)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["type"] == "schedule_invalid" and error["loc"] == ["body", *fields] and reason in error["msg"]
    too_long = client.post(path, json=schedule_body(name="n" * 201), headers=alice)
    assert too_long.status_code == 422
    missing = client.post(path, json=schedule_body(inputs={}), headers=alice)
    assert missing.status_code == 400 and missing.json()["code"] == "graph_invalid"
    assert client.post(path, json=schedule_body(), headers=bob).status_code == 404  # alice's graph
    unknown = client.post(path, json=schedule_body(graph_version=7), headers=alice)
    assert unknown.status_code == 404 and unknown.json()["code"] == "graph_not_found"
    gone = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"/api/graphs/{gone}/schedules", json=schedule_body(), headers=alice).status_code == 404
    assert container.event_logs["schedules"].head() == 0

    monkeypatch.setattr(schedules_router, "MAX_SCHEDULES_PER_USER", 2)
    for _ in range(2):
        made = client.post(path, json=schedule_body(), headers=alice)
        listed(client, alice, token=made.headers["X-Consistency-Token"])
    third = client.post(path, json=schedule_body(), headers=alice)
    assert third.status_code == 409 and third.json()["code"] == "schedule_limit_reached"
    bobs = new_graph(client, bob)  # the limit is per user
    assert ok(client.post(f"/api/graphs/{bobs}/schedules", json=schedule_body(), headers=bob))["user_id"] == "bob"


def test_a_due_schedule_fires_once_with_its_inputs_even_when_retried_after_a_crash(platform: Platform) -> None:
    container, client, clock = platform
    alice = jwt(container, "alice")
    graph_id = new_graph(client, alice)
    job = ok(
        client.post(
            f"/api/graphs/{graph_id}/schedules", json=schedule_body(cron="*/5 * * * *", name="5 min"), headers=alice
        )
    )
    first_tick = datetime.fromisoformat(job["next_run_time"]).astimezone(UTC)
    # a scheduler started the first tick's run and died before recording the tick
    schedule = container.schedules.load(UUID(job["id"]))
    assert schedule is not None
    crashed_run = run_id_for(schedule.id, first_tick)
    container.executions.request_execution(
        user_id="alice",
        graph_id=graph_id,
        graph_version=1,
        graph=container.graphs.graph_for_run("alice", graph_id, 1),
        lookup=container.blocks.get,
        inputs={"Input": 8},
        execution_id=crashed_run,
    )
    clock.now = first_tick + timedelta(seconds=1)  # the next scheduler fires the tick again
    until(lambda: (s := container.schedules.load(schedule.id)) and s.last_tick, "the first tick is recorded")

    clock.now = first_tick + timedelta(minutes=16)  # three ticks missed: one late run (coalesce)
    late_tick = first_tick + timedelta(minutes=15)
    runs = until(
        lambda: len(graph_runs(client, alice, graph_id)) == 2 and graph_runs(client, alice, graph_id), "2 runs"
    )
    assert sorted(r["id"] for r in runs) == sorted([str(crashed_run), str(run_id_for(schedule.id, late_tick))])
    for run in runs:
        done = until(lambda r=run: finished(client, alice, graph_id, r["id"]), "the run ended")
        assert done["status"] == "COMPLETED" and done["outputs"] == {"Output": [42]}
    following = (late_tick + timedelta(minutes=5)).isoformat()
    (after,) = until(lambda: [j for j in listed(client, alice) if j["next_run_time"] == following], "next run moved")
    assert after["id"] == job["id"] and after["input_data"] == {"Input": 8}


def graph_runs(client: TestClient, user: dict[str, str], graph_id: str) -> list[Any]:
    runs: list[Any] = ok(client.get(f"/api/graphs/{graph_id}/executions", headers=user))["executions"]
    return runs


def finished(client: TestClient, user: dict[str, str], graph_id: str, run_id: str) -> Any:
    run = ok(client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=user))
    return run if run["status"] in ("COMPLETED", "FAILED", "TERMINATED") else None


def test_deleting_a_graph_ends_its_schedules_at_once(platform: Platform) -> None:
    container, client, clock = platform
    alice = jwt(container, "alice")
    doomed, kept = new_graph(client, alice, "Doomed"), new_graph(client, alice, "Kept")
    made = [
        ok(client.post(f"/api/graphs/{graph}/schedules", json=schedule_body(cron=cron), headers=alice))
        for graph, cron in ((doomed, "0 9 * * *"), (doomed, "0 10 * * *"), (kept, "0 9 * * *"))
    ]
    until(lambda: len(listed(client, alice)) == 3, "three schedules are listed")
    assert ok(client.delete(f"/api/graphs/{doomed}", headers=alice))
    until(lambda: [j["id"] for j in listed(client, alice)] == [made[2]["id"]], "the doomed graph's schedules ended")
    for job in made[:2]:
        ended = container.schedules.load(UUID(job["id"]))
        assert ended is not None and ended.is_deleted
    clock.now += timedelta(days=2)  # every tick passes: only the kept graph's schedule fires
    until(lambda: len(graph_runs(client, alice, kept)) == 1, "the kept graph's schedule fired")
    assert {run["graph_id"] for run in ok(client.get("/api/executions", headers=alice))} == {kept}


def test_removing_a_graph_from_the_library_ends_its_schedules_at_once(platform: Platform) -> None:
    container, client, clock = platform
    alice = jwt(container, "alice")
    removed, kept = new_graph(client, alice, "Removed"), new_graph(client, alice, "Kept")
    made = [
        ok(client.post(f"/api/graphs/{graph}/schedules", json=schedule_body(cron="0 9 * * *"), headers=alice))
        for graph in (removed, kept)
    ]
    until(lambda: len(listed(client, alice)) == 2, "two schedules are listed")
    entry = until(
        lambda: (
            (r := client.get(f"/api/library/agents/by-graph/{removed}", headers=alice)).status_code == 200 and r.json()
        ),
        "the graph is in the library",
    )
    assert client.delete(f"/api/library/agents/{entry['id']}", headers=alice).status_code == 204
    until(lambda: [j["id"] for j in listed(client, alice)] == [made[1]["id"]], "the removed graph's schedule ended")
    ended = container.schedules.load(UUID(made[0]["id"]))
    assert ended is not None and ended.is_deleted
    clock.now += timedelta(days=2)  # every tick passes: only the kept graph's schedule fires
    until(lambda: len(graph_runs(client, alice, kept)) == 1, "the kept graph's schedule fired")
    assert {run["graph_id"] for run in ok(client.get("/api/executions", headers=alice))} == {kept}


@pytest.mark.parametrize("mode", ["sqlite"], indirect=True)
def test_a_secret_input_stays_sealed_in_the_schedule_and_its_runs(platform: Platform, mode: Mode) -> None:
    container, client, clock = platform
    alice = jwt(container, "alice")
    secret = "hunter2-" + "x" * 12
    graph = {
        "name": "secret echo",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "passphrase", "secret": True}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "echo"}},
        ],
        "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}],
    }
    graph_id = ok(client.post("/api/graphs", json={"graph": graph}, headers=alice))["id"]
    made = client.post(
        f"/api/graphs/{graph_id}/schedules", json=schedule_body(inputs={"passphrase": secret}), headers=alice
    )
    assert ok(made)["input_data"] == {"passphrase": MASK}
    assert listed(client, alice, token=made.headers["X-Consistency-Token"])[0]["input_data"] == {"passphrase": MASK}
    clock.now += timedelta(days=8)
    (run,) = until(lambda: graph_runs(client, alice, graph_id), "the schedule fired")
    done = until(lambda: finished(client, alice, graph_id, run["id"]), "the run ended")
    assert done["status"] == "COMPLETED" and done["outputs"] == {"echo": [MASK]}  # opened for the run, masked when read
    recorded = container.executions.load(UUID(run["id"]))
    opened, run_inputs = OpenedSecrets(), container.run_inputs
    assert recorded is not None and run_inputs is not None
    run_inputs.open_inputs("alice", recorded.id, {"passphrase"}, recorded.inputs, opened)  # re-sealed for the run
    assert list(opened.clear_by_token.values()) == [secret]
    stored = list(mode.settings().data_dir.glob("*.sqlite3*"))
    assert stored and scan_files(stored, [secret]) == []
