"""The library and presets through HTTP, in each mode (embedded SQLite, PostgreSQL, PostgreSQL + Kafka).

Stories: a graph a user creates is in their library (a sub-graph too);
list, search, sort, page, favourites, archive (hidden from the list, still
readable), delete, by-graph; fork (the copy is the user's and runs); a store
agent added to a library (the store's port is a test double) runs as the
runner and stays the creator's; presets: create, read, change, run with
merged inputs (``preset_id`` on the run), from a run, secret inputs never in
clear, delete; status and ``new_output`` from the runs; the library read
model equals a rebuild afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.event_log import reader
from adapters.kafka_topics import partition_for
from adapters.read_store import Partitioning, rebuild_projection
from api.auth import mint_token
from api.composition import Container, build_container
from api.consistency import TOKEN_HEADER
from application.library import ApprovedVersion, Library
from projections.registry import projection_named
from tests.integration.conftest import Mode
from tests.read_models import table_rows
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import INPUT, OUTPUT, calculator

pytestmark = pytest.mark.integration

JWT_KEY = "library-test-key-" + "k" * 32
AGENT = "e189baac-8c20-45a1-94a7-55177ea42565"
FINAL = ("COMPLETED", "FAILED", "TERMINATED")


@pytest.fixture
def platform(mode: Mode) -> Iterator[tuple[Container, TestClient]]:
    """The platform (API, executor, projector) in the test's mode."""
    container = build_container(mode.settings(JWT_VERIFY_KEY=JWT_KEY))
    client = SessionClient(mode.app(container, executor=True, projector=True))
    with client:
        yield container, client
    container.close()


def jwt(container: Container, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user)}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def after(response: Any, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with the consistency token of a command's answer."""
    token = response.headers.get(TOKEN_HEADER)
    return {**headers, TOKEN_HEADER: token} if token else headers


def create(client: TestClient, headers: dict[str, str], graph: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    response = client.post("/api/graphs", json={"graph": graph}, headers=headers)
    return ok(response), after(response, headers)


def wait_run(client: TestClient, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if response.status_code == 200 and response.json()["status"] in FINAL:
            return dict(response.json())
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def library(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    return dict(ok(client.get("/api/library/agents", params=params, headers=headers)))


def library_of(client: TestClient, headers: dict[str, str], count: int) -> dict[str, Any]:
    """The library once it shows ``count`` entries (a token names one Kafka partition; others may lag a moment)."""
    deadline = time.monotonic() + 60
    while (found := library(client, headers))["pagination"]["total_items"] < count:
        assert time.monotonic() < deadline, f"the library did not reach {count} entries: {found}"
        time.sleep(0.05)
    return found


def with_sub_agent(sub_graph_id: str, user_id: str, name: str = "Outer", version: int = 1) -> dict[str, Any]:
    """Input -> AgentExecutorBlock(sub-graph ``version``) -> Output."""
    return {
        "name": name,
        "description": "runs a sub-agent",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
            {
                "id": "agent",
                "block_id": AGENT,
                "input_default": {
                    "user_id": user_id,
                    "graph_id": sub_graph_id,
                    "graph_version": version,
                    "inputs": {},
                    "input_schema": {"type": "object", "properties": {"Input": {"type": "integer"}}},
                    "output_schema": {"type": "object", "properties": {"Output": {}}},
                },
            },
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "Output"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "agent", "source_name": "result", "sink_name": "Input"},
            {"source_id": "agent", "sink_id": "out", "source_name": "Output", "sink_name": "value"},
        ],
    }


def test_created_graphs_are_in_the_library_and_can_be_found_favoured_archived_and_removed(
    platform: tuple[Container, TestClient],
) -> None:
    container, client = platform
    alice = jwt(container, "alice")
    inner, _ = create(client, alice, calculator("Inner adder", b=1))
    outer, read = create(client, alice, with_sub_agent(inner["id"], "alice", "Outer runner"))
    listed = library_of(client, read, 2)
    assert {agent["graph_id"] for agent in listed["agents"]} == {inner["id"], outer["id"]}
    assert listed["pagination"] == {"total_items": 2, "total_pages": 1, "current_page": 1, "page_size": 15}
    newest = listed["agents"][0]  # updatedAt descending by default
    assert newest["graph_id"] == outer["id"] and newest["name"] == "Outer runner"
    assert newest["can_access_graph"] is True and newest["status"] == "COMPLETED" and newest["new_output"] is False
    assert set(newest["input_schema"]["properties"]) == {"Input"}
    assert [a["graph_id"] for a in library(client, read, sort_by="createdAt")["agents"]] == [inner["id"], outer["id"]]
    assert [a["graph_id"] for a in library(client, read, search_term="inner")["agents"]] == [inner["id"]]
    assert library(client, read, search_term="nothing%like_this")["agents"] == []
    page = library(client, read, page=2, page_size=1)
    assert len(page["agents"]) == 1 and page["pagination"]["total_pages"] == 2
    assert client.get("/api/library/agents", params={"search_term": "x" * 101}, headers=read).status_code == 400
    assert client.get("/api/library/agents", params={"page": 0}, headers=read).status_code == 422
    assert client.get("/api/library/agents", params={"sort_by": "name"}, headers=read).status_code == 422

    agent_id = newest["id"]
    assert ok(client.get(f"/api/library/agents/by-graph/{outer['id']}", headers=read))["id"] == agent_id
    empty = client.patch(f"/api/library/agents/{agent_id}", json={}, headers=alice)
    assert empty.status_code == 400 and empty.json()["detail"] == "No values were passed to update"
    favoured = client.patch(f"/api/library/agents/{agent_id}", json={"is_favorite": True}, headers=alice)
    assert ok(favoured)["is_favorite"] is True
    favourites = ok(client.get("/api/library/agents/favorites", headers=after(favoured, alice)))
    assert [a["id"] for a in favourites["agents"]] == [agent_id]

    archived = client.patch(f"/api/library/agents/{agent_id}", json={"is_archived": True}, headers=alice)
    ok(archived)
    assert [a["graph_id"] for a in library(client, after(archived, alice))["agents"]] == [inner["id"]]
    assert ok(client.get(f"/api/library/agents/{agent_id}", headers=alice))["graph_id"] == outer["id"]

    deleted = client.delete(f"/api/library/agents/{agent_id}", headers=alice)
    assert deleted.status_code == 204
    assert client.get(f"/api/library/agents/{agent_id}", headers=after(deleted, alice)).status_code == 404
    assert client.delete(f"/api/library/agents/{agent_id}", headers=alice).status_code == 404
    assert ok(client.get(f"/api/graphs/{outer['id']}", headers=alice))["id"] == outer["id"]  # the graph stays

    bob = jwt(container, "bob")
    assert library(client, bob)["agents"] == []
    assert client.get(f"/api/library/agents/by-graph/{inner['id']}", headers=bob).status_code == 404
    unknown = client.post("/api/library/agents", json={"store_listing_version_id": "nope"}, headers=bob)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Store listing version nope not found"
    assert_rebuild_equals_live(container)


def test_fork_copies_the_graph_and_its_sub_graph_and_the_copy_runs(platform: tuple[Container, TestClient]) -> None:
    container, client = platform
    alice = jwt(container, "alice")
    inner, _ = create(client, alice, calculator("Inner adder", b=1))
    outer, read = create(client, alice, with_sub_agent(inner["id"], "alice", "Outer runner"))
    agent = ok(client.get(f"/api/library/agents/by-graph/{outer['id']}", headers=read))
    forked_response = client.post(f"/api/library/agents/{agent['id']}/fork", headers=alice)
    forked = ok(forked_response)
    assert forked["name"] == "Outer runner (copy)" and forked["graph_id"] != outer["id"]
    copy = ok(client.get(f"/api/graphs/{forked['graph_id']}", headers=after(forked_response, alice)))
    assert (copy["forked_from_id"], copy["forked_from_version"]) == (outer["id"], 1)
    sub_copy_id = next(n for n in copy["nodes"] if n["block_id"] == AGENT)["input_default"]["graph_id"]
    assert sub_copy_id not in (inner["id"], outer["id"])
    deadline = time.monotonic() + 60  # the sub-graph's copy may sit on another Kafka partition than the token's
    while (sub_copy := client.get(f"/api/graphs/{sub_copy_id}", headers=alice)).status_code == 404:
        assert time.monotonic() < deadline, "the sub-graph's copy did not reach the read model"
        time.sleep(0.05)
    assert ok(sub_copy)["name"] == "Inner adder (copy)"
    assert library_of(client, after(forked_response, alice), 4)["pagination"]["total_items"] == 4
    run = ok(client.post(f"/api/graphs/{copy['id']}/execute/1", json={"inputs": {"Input": 4}}, headers=alice))
    ended = wait_run(client, alice, copy["id"], run["id"])
    assert ended["status"] == "COMPLETED" and ended["outputs"] == {"Output": [5]}


class OneListing:
    """The store's port as a test double: one approved listing version."""

    def __init__(self, approved: ApprovedVersion) -> None:
        self.approved = approved

    def approved_version(self, store_listing_version_id: str) -> ApprovedVersion | None:
        return self.approved if store_listing_version_id == self.approved.store_listing_version_id else None


def test_a_store_agent_in_a_library_runs_as_the_runner_and_stays_the_creators(
    platform: tuple[Container, TestClient],
) -> None:
    container, client = platform
    creator, runner = jwt(container, "creator"), jwt(container, "runner")
    inner, _ = create(client, creator, calculator("Listed adder", b=10))
    graph, _ = create(client, creator, with_sub_agent(inner["id"], "creator", "Listed runner"))
    listing = ApprovedVersion("slv-1", graph["id"], 1, "creator", None, "Crea Tor", None)
    store = Library(container.accounts, container.graphs, listings=OneListing(listing), lookup=container.blocks.get)
    assert (
        client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=runner).status_code
        == 404
    )
    written = store.add_from_store("runner", "slv-1")
    deadline = time.monotonic() + 60
    while len(shown := library(client, runner, sort_by="createdAt")["agents"]) < 2:  # written outside a route
        assert time.monotonic() < deadline, "the store agents did not reach the library"
        time.sleep(0.05)
    assert [(a["graph_id"], a["can_access_graph"], a["creator_name"]) for a in shown] == [
        (inner["id"], False, "Unknown"),  # the sub-graph the listed graph runs (added first), and the listed graph
        (graph["id"], False, "Crea Tor"),
    ]
    run = ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=runner))
    assert run["user_id"] == "runner"
    assert wait_run(client, runner, graph["id"], run["id"])["outputs"] == {"Output": [11]}
    listed = ok(client.get(f"/api/graphs/{graph['id']}/executions", headers=runner))["executions"]
    assert [r["id"] for r in listed] == [run["id"]]  # the runner's runs of it are listed for them
    assert ok(client.get(f"/api/graphs/{graph['id']}/executions", headers=creator))["executions"] == []
    assert client.get(f"/api/graphs/{graph['id']}", headers=runner).status_code == 404  # still the creator's
    assert client.get(f"/api/graphs/{graph['id']}/executions/{run['id']}", headers=creator).status_code == 404
    assert (
        client.post(f"/api/graphs/{graph['id']}/execute/2", json={"inputs": {"Input": 1}}, headers=runner).status_code
        == 404
    )
    removed = client.delete(f"/api/library/agents/{shown[1]['id']}", headers=runner)
    assert removed.status_code == 204
    again = client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=runner)
    assert again.status_code == 404
    assert store.add_from_store("runner", "slv-1").aggregate_id == written.aggregate_id  # back, same entry


def secret_graph() -> dict[str, Any]:
    """Two inputs (one secret) joined by a text template into one output."""
    return {
        "name": "Greeter",
        "nodes": [
            {"id": "who", "block_id": INPUT, "input_default": {"name": "who"}},
            {"id": "key", "block_id": INPUT, "input_default": {"name": "key", "secret": True}},
            {"id": "out1", "block_id": OUTPUT, "input_default": {"name": "who_out"}},
            {"id": "out2", "block_id": OUTPUT, "input_default": {"name": "key_out"}},
        ],
        "links": [
            {"source_id": "who", "sink_id": "out1", "source_name": "result", "sink_name": "value"},
            {"source_id": "key", "sink_id": "out2", "source_name": "result", "sink_name": "value"},
        ],
    }


def test_presets_are_saved_changed_run_with_merged_inputs_and_deleted(platform: tuple[Container, TestClient]) -> None:
    container, client = platform
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    graph, read = create(client, alice, secret_graph())
    secret = "sk-preset-secret-" + "z" * 12
    body = {
        "graph_id": graph["id"],
        "graph_version": 1,
        "inputs": {"who": "world", "key": secret},
        "credentials": {},
        "name": "Hello preset",
        "description": "greets",
    }
    created = client.post("/api/library/presets", json=body, headers=alice)
    preset = ok(created)
    assert preset["inputs"] == {"who": "world", "key": "********"} and preset["is_active"] is True
    listed = ok(client.get("/api/library/presets", headers=after(created, alice)))
    assert [p["id"] for p in listed["presets"]] == [preset["id"]] and listed["pagination"]["total_items"] == 1
    assert ok(client.get("/api/library/presets", headers=bob))["presets"] == []
    assert client.get(f"/api/library/presets/{preset['id']}", headers=bob).status_code == 404
    assert client.post(f"/api/library/presets/{preset['id']}/execute", json={}, headers=bob).status_code == 404

    renamed = client.patch(f"/api/library/presets/{preset['id']}", json={"name": "Renamed"}, headers=alice)
    assert ok(renamed)["name"] == "Renamed"
    assert ok(client.get(f"/api/library/presets/{preset['id']}", headers=after(renamed, alice)))["name"] == "Renamed"

    patched = client.patch(
        f"/api/library/presets/{preset['id']}", json={"inputs": {"who": "patched", "key": secret}}, headers=alice
    )
    assert ok(patched)["inputs"] == {"who": "patched", "key": "********"}
    plain = ok(client.post(f"/api/library/presets/{preset['id']}/execute", json={}, headers=alice))
    assert wait_run(client, alice, graph["id"], plain["id"])["outputs"]["who_out"] == ["patched"]
    run = ok(
        client.post(f"/api/library/presets/{preset['id']}/execute", json={"inputs": {"who": "you"}}, headers=alice)
    )
    assert run["preset_id"] == preset["id"]
    ended = wait_run(client, alice, graph["id"], run["id"])
    assert ended["outputs"]["who_out"] == ["you"] and ended["preset_id"] == preset["id"]
    assert ended["inputs"] == {"who": "you", "key": "********"}

    copied = ok(
        client.post(
            "/api/library/presets",
            json={"graph_execution_id": run["id"], "name": "From a run", "description": ""},
            headers=alice,
        )
    )
    assert copied["inputs"] == {"who": "you", "key": "********"} and copied["graph_id"] == graph["id"]
    rerun = ok(client.post(f"/api/library/presets/{copied['id']}/execute", json={}, headers=alice))
    assert wait_run(client, alice, graph["id"], rerun["id"])["status"] == "COMPLETED"

    for context, log in container.event_logs.items():
        head = log.head()
        stored = json.dumps([e.data for e in reader(container.event_logs)(context, 0, head + 1)], default=str)
        assert secret not in stored, f"the {context} log holds the secret in clear"
    for table in ("library_presets", "executions"):
        assert secret not in json.dumps(table_rows(container.read_store, table, "1"), default=str)

    admin = {"Authorization": f"Bearer {mint_token(container.jwt, 'admin', role='admin')}"}
    ok(client.delete("/api/admin/users/alice/secrets", headers=admin))
    erased = client.post(f"/api/library/presets/{preset['id']}/execute", json={}, headers=alice)
    assert erased.status_code == 409 and erased.json()["code"] == "secret_input_unavailable"
    bad = client.post("/api/library/presets", json={"name": "neither"}, headers=alice)
    assert bad.status_code == 400
    deleted = client.delete(f"/api/library/presets/{preset['id']}", headers=alice)
    assert deleted.status_code == 204
    assert client.get(f"/api/library/presets/{preset['id']}", headers=after(deleted, alice)).status_code == 404
    assert_rebuild_equals_live(container)
    _ = read


def test_status_and_new_output_follow_the_runs(platform: tuple[Container, TestClient]) -> None:
    container, client = platform
    alice = jwt(container, "alice")
    graph, read = create(client, alice, calculator("Adder", b=2))
    agent = ok(client.get(f"/api/library/agents/by-graph/{graph['id']}", headers=read))
    assert (agent["status"], agent["new_output"]) == ("COMPLETED", False)
    run = ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=alice))
    wait_run(client, alice, graph["id"], run["id"])
    agent = ok(client.get(f"/api/library/agents/{agent['id']}", headers=alice))
    assert (agent["status"], agent["new_output"]) == ("COMPLETED", True)
    # a new active version: the entry follows it (no run of it yet); it runs itself, so its run fails at the
    # sub-agent depth limit, and the entry is ERROR
    recursive = with_sub_agent(graph["id"], "alice", "Adder v2", version=2)
    updated = client.put(f"/api/graphs/{graph['id']}", json=recursive, headers=alice)
    ok(updated)
    agent = ok(client.get(f"/api/library/agents/{agent['id']}", headers=after(updated, alice)))
    assert (agent["graph_version"], agent["name"], agent["status"], agent["new_output"]) == (
        2,
        "Adder v2",
        "COMPLETED",
        False,
    )
    failing = ok(client.post(f"/api/graphs/{graph['id']}/execute/2", json={"inputs": {"Input": 1}}, headers=alice))
    failed = wait_run(client, alice, graph["id"], failing["id"])
    assert failed["status"] == "FAILED", json.dumps(failed)[:3000]
    assert ok(client.get(f"/api/library/agents/{agent['id']}", headers=alice))["status"] == "ERROR"


def assert_rebuild_equals_live(container: Container) -> None:
    """The library read model, rebuilt from the event stores, equals the live one (once it caught up)."""
    read = reader(container.event_logs)
    count = container.settings.kafka_partitions
    kafka = bool(container.settings.kafka_bootstrap)

    def caught_up() -> bool:
        for context in ("graphs", "accounts"):
            expected: dict[int | None, int] = {}
            for event in read(context, 0, 1_000_000):
                part = partition_for(event.routing_key, count) if kafka else None
                expected[part] = max(expected.get(part, 0), event.position)
            if not all(container.read_store.has_applied("library", context, p, part) for part, p in expected.items()):
                return False
        return True

    deadline = time.monotonic() + 60
    while not caught_up():
        assert time.monotonic() < deadline, "the library read model did not catch up"
        time.sleep(0.05)
    tables = ("library_agents", "library_presets")
    live = {t: table_rows(container.read_store, t, "1, 2") for t in tables}
    partitions = Partitioning(count, lambda key: partition_for(key, count)) if kafka else None
    rebuild_projection(container.read_store, projection_named("library"), read, partitions=partitions)
    assert {t: table_rows(container.read_store, t, "1, 2") for t in tables} == live


def test_concurrent_first_changes_of_an_entry_all_succeed(platform: tuple[Container, TestClient]) -> None:
    """Eight PATCHes racing to record an own graph's first library event: each answers 200, one entry results."""
    container, client = platform
    alice = jwt(container, "alice")
    graph, read = create(client, alice, calculator("Raced", b=1))
    agent_id = ok(client.get(f"/api/library/agents/by-graph/{graph['id']}", headers=read))["id"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: client.patch(f"/api/library/agents/{agent_id}", json={"is_favorite": True}, headers=alice),
                range(8),
            )
        )
    assert [answer.status_code for answer in answers] == [200] * 8
    assert ok(client.get(f"/api/library/agents/{agent_id}", headers=after(answers[-1], alice)))["is_favorite"] is True
