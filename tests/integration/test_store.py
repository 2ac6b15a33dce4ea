"""The store through HTTP, in each mode (embedded; PostgreSQL; PostgreSQL + Kafka, both with Redis's cache).

The story: a creator saves a profile and submits a graph version (PENDING);
another user cannot submit it, nor review it as an admin (403); the admin
approves, and the store shows the listing at once to a client holding no
token (the cached answer of before is not served); a second submission is
rejected; reviews are upserts averaged into the rating; runs by others are
counted, the creator's own are not; AutoGPT's 422s; a withdrawn listing
leaves the store; the read model equals a rebuild.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from adapters.event_log import reader
from adapters.read_store import rebuild_projection
from api.auth import mint_token
from api.composition import Container, build_container
from api.consistency import token_for
from projections.registry import projection_named
from projections.store_listings.tables import TABLES
from tests.integration.conftest import Mode
from tests.read_models import table_rows
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "store-test-key-" + "s" * 32
KEYS = {
    "store_profiles": "user_id",
    "store_listings": "listing_id",
    "store_listing_versions": "store_listing_version_id",
    "store_reviews": "store_listing_version_id, user_id",
    "store_graph_runs": "graph_id, user_id",
    "store_deleted_graphs": "graph_id",
    "store_generation": "scope",
}


@pytest.fixture
def platform(mode: Mode, request: pytest.FixtureRequest) -> Iterator[tuple[Container, SessionClient, str | None]]:
    fields: dict[str, Any] = {"JWT_VERIFY_KEY": JWT_KEY}
    prefix = None
    if mode.name != "sqlite":  # the distributed modes cache the store in Redis
        prefix = request.getfixturevalue("redis_key_prefix")
        fields["AGENTGRAPH_REDIS_URL"] = request.getfixturevalue("redis_url")
        fields["AGENTGRAPH_REDIS_KEY_PREFIX"] = prefix
    container = build_container(mode.settings(**fields))
    client = SessionClient(mode.app(container, executor=True, projector=True))
    with client:
        yield container, client, prefix
    container.close()


def jwt(container: Container, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user, role=role)}"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def submission(graph_id: str, slug: str, name: str, **more: Any) -> dict[str, Any]:
    return {
        "agent_id": graph_id,
        "agent_version": 1,
        "slug": slug,
        "name": name,
        "sub_heading": "adds numbers",
        "description": f"{name} adds a constant",
        "image_urls": ["https://img.example/1.png", "https://img.example/2.png"],
        "categories": ["Productivity", "math"],
        **more,
    }


def test_submission_approval_listing_reviews_and_runs(platform: tuple[Container, SessionClient, str | None]) -> None:
    container, client, prefix = platform
    plain = Tokenless(client)  # sends no consistency token: sees what any other client sees
    alice, bob, carol = (jwt(container, user) for user in ("alice", "bob", "carol"))
    admin = jwt(container, "root", role="admin")

    # profiles
    assert client.get("/api/store/profile", headers=carol).status_code == 404
    profile = {"name": "Alice A", "username": "Alice", "description": "I make agents", "links": ["https://a.example"]}
    assert ok(client.post("/api/store/profile", json=profile, headers=alice))["username"] == "alice"
    assert ok(client.get("/api/store/profile", headers=alice))["links"] == ["https://a.example"]
    taken = client.post("/api/store/profile", json={**profile, "username": "ALICE"}, headers=bob)
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
    ok(client.post("/api/store/profile", json={"name": "Bob", "username": "bob"}, headers=bob))

    # a graph, not listed yet
    graph_id = ok(client.post("/api/graphs", json={"graph": calculator("Adder")}, headers=alice))["id"]
    other_id = ok(client.post("/api/graphs", json={"graph": calculator("Other")}, headers=alice))["id"]
    mine = ok(client.get("/api/store/myagents", headers=alice))
    assert {a["agent_id"] for a in mine["agents"]} == {graph_id, other_id}

    # only the owner submits its graph version
    assert client.post("/api/store/submissions", json=submission(graph_id, "x", "X"), headers=bob).status_code == 404
    bad_version = submission(graph_id, "adder", "Adder", agent_version=7)
    assert client.post("/api/store/submissions", json=bad_version, headers=alice).status_code == 404
    submitted = ok(client.post("/api/store/submissions", json=submission(graph_id, "Adder", "Adder"), headers=alice))
    assert (submitted["status"], submitted["slug"], submitted["agent_id"]) == ("PENDING", "adder", graph_id)
    version_id = submitted["store_listing_version_id"]
    listed = ok(client.get("/api/store/submissions", headers=alice))
    assert [s["store_listing_version_id"] for s in listed["submissions"]] == [version_id]
    assert ok(client.get("/api/store/submissions", headers=bob))["submissions"] == []
    assert [a["agent_id"] for a in ok(client.get("/api/store/myagents", headers=alice))["agents"]] == [other_id]

    # not in the store while PENDING (and this empty answer is what the cache holds)
    assert ok(plain.get("/api/store/agents", headers=bob))["agents"] == []
    assert plain.get("/api/store/agents/alice/adder", headers=bob).status_code == 404

    # admins find what waits for review
    pending = ok(client.get("/api/store/admin/listings", params={"status": "PENDING"}, headers=admin))["listings"]
    assert [(x["agent_id"], x["latest_version"]["status"]) for x in pending] == [(graph_id, "PENDING")]
    assert client.get("/api/store/admin/listings", headers=bob).status_code == 403

    # the admin's review: 403 for others, then approval
    review = {"store_listing_version_id": version_id, "is_approved": True, "comments": "great"}
    path = f"/api/store/admin/submissions/{version_id}/review"
    assert client.post(path, json=review, headers=bob).status_code == 403
    approved = ok(client.post(path, json={**review, "internal_comments": "ok"}, headers=admin))
    assert (approved["status"], approved["reviewer_id"], approved["internal_comments"]) == ("APPROVED", "root", "ok")
    assert client.post(path, json=review, headers=admin).status_code == 409

    # visible at once to a client without a token, cache or not
    agents = ok(plain.get("/api/store/agents", headers=bob))["agents"]
    assert [(a["slug"], a["creator"], a["agent_image"], a["runs"]) for a in agents] == [
        ("adder", "alice", "https://img.example/1.png", 0)
    ]
    details = ok(plain.get("/api/store/agents/ALICE/Adder", headers=bob))
    assert (details["store_listing_version_id"], details["agentGraphId"]) == (version_id, graph_id)
    assert details["categories"] == ["Productivity", "math"] and details["versions"] == ["1"]
    if prefix is not None:
        keys = redis.Redis.from_url(container.settings.redis_url or "").keys(f"{prefix}store:*")
        assert keys, "the distributed mode caches the store's answers in Redis"
    for permissions, status in ((["READ_STORE"], 200), (["IDENTITY"], 403)):
        key = ok(client.post("/api/api-keys", json={"name": "k", "permissions": permissions}, headers=bob))
        by_key = client.get("/external-api/v1/store/agents", headers={"X-API-Key": key["plain_text_key"]})
        assert by_key.status_code == status, by_key.text
        if status == 200:
            assert [a["slug"] for a in by_key.json()["agents"]] == ["adder"]
            one = client.get("/external-api/v1/store/agents/alice/adder", headers={"X-API-Key": key["plain_text_key"]})
            assert ok(one)["store_listing_version_id"] == version_id
    found = container.store_queries.approved_version(version_id)
    assert found is not None and (found.graph_id, found.graph_version, found.owner_user_id) == (graph_id, 1, "alice")
    assert found.creator_name == "Alice A" and found.image_url == "https://img.example/1.png"

    # filters, sorting, AutoGPT's 422s
    assert ok(plain.get("/api/store/agents", params={"category": "productivity"}, headers=bob))["agents"]
    assert not ok(plain.get("/api/store/agents", params={"category": "prod"}, headers=bob))["agents"]
    assert ok(plain.get("/api/store/agents", params={"search_query": "ADDS A"}, headers=bob))["agents"]
    assert not ok(plain.get("/api/store/agents", params={"creator": "bob"}, headers=bob))["agents"]
    for route in ("/api/store/agents", "/api/store/creators"):
        for params, message in (
            ({"page": 0}, "Page must be greater than 0"),
            ({"page_size": 0}, "Page size must be greater than 0"),
        ):
            answer = plain.get(route, params=params, headers=bob)
            assert (answer.status_code, answer.json()["detail"]) == (422, message)

    # reject path
    second = ok(client.post("/api/store/submissions", json=submission(other_id, "other", "Other"), headers=alice))
    path2 = f"/api/store/admin/submissions/{second['store_listing_version_id']}/review"
    rejected = ok(
        client.post(
            path2,
            json={
                "store_listing_version_id": second["store_listing_version_id"],
                "is_approved": False,
                "comments": "no",
            },
            headers=admin,
        )
    )
    assert (rejected["status"], rejected["review_comments"]) == ("REJECTED", "no")
    statuses = {s["slug"]: s["status"] for s in ok(client.get("/api/store/submissions", headers=alice))["submissions"]}
    assert statuses == {"adder": "APPROVED", "other": "REJECTED"}
    assert [a["slug"] for a in ok(plain.get("/api/store/agents", headers=bob))["agents"]] == ["adder"]

    # reviews: one per user per version, an upsert; averaged
    review_path = "/api/store/agents/alice/adder/review"
    for user, score in ((bob, 5), (bob, 3), (carol, 4)):
        body = {"store_listing_version_id": version_id, "score": score, "comments": "fine"}
        assert ok(client.post(review_path, json=body, headers=user)) == {"score": score, "comments": "fine"}
    bad = client.post(review_path, json={"store_listing_version_id": version_id, "score": 6}, headers=bob)
    assert bad.status_code == 422
    unknown = client.post(
        "/api/store/agents/alice/nope/review", json={"store_listing_version_id": version_id, "score": 1}, headers=bob
    )
    assert unknown.status_code == 404
    assert ok(client.get("/api/store/agents/alice/adder", headers=bob))["rating"] == 3.5

    # runs: the creator's own are not counted, others' are
    run = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 1}}, headers=alice))
    content = container.graphs.graph_for_run("alice", graph_id, 1)
    others = container.executions.request_execution(
        user_id="bob",
        graph_id=graph_id,
        graph_version=1,
        graph=content,
        lookup=container.blocks.get,
        inputs={"Input": 2},
    )
    wait_for_runs(client, alice, graph_id, run["id"])
    seen = ok(
        client.get(
            "/api/store/agents", headers=bob, params={"consistency_token": token_for(container, "executions", others)}
        )
    )
    assert seen["agents"][0]["runs"] == 1
    creators = ok(plain.get("/api/store/creators", headers=bob))["creators"]
    assert [(c["username"], c["num_agents"], c["agent_runs"], c["agent_rating"]) for c in creators] == [
        ("alice", 1, 1, 3.5)
    ]
    creator = ok(plain.get("/api/store/creator/Alice", headers=bob))
    assert creator["links"] == ["https://a.example"] and creator["top_categories"] == ["Productivity", "math"]
    assert plain.get("/api/store/creator/bob", headers=alice).status_code == 404  # nothing in the store

    # a deleted graph leaves the store (and cannot be added from it)
    third = ok(client.post("/api/graphs", json={"graph": calculator("Third")}, headers=alice))["id"]
    listed3 = ok(client.post("/api/store/submissions", json=submission(third, "third", "Third"), headers=alice))
    version3 = listed3["store_listing_version_id"]
    body3 = {"store_listing_version_id": version3, "is_approved": True, "comments": "ok"}
    ok(client.post(f"/api/store/admin/submissions/{version3}/review", json=body3, headers=admin))
    assert "third" in {a["slug"] for a in ok(client.get("/api/store/agents", headers=bob))["agents"]}
    ok(client.delete(f"/api/graphs/{third}", headers=alice))
    ok(client.get("/api/graphs", headers=alice))  # the graphs read model applied the deletion
    assert "third" not in {a["slug"] for a in ok(client.get("/api/store/agents", headers=bob))["agents"]}
    assert container.store_queries.approved_version(version3) is None

    # withdrawing: 404 for others, then the listing leaves the store
    assert client.delete(f"/api/store/submissions/{version_id}", headers=bob).status_code == 404
    assert ok(client.delete(f"/api/store/submissions/{version_id}", headers=alice)) is True
    assert ok(client.get("/api/store/agents", headers=bob))["agents"] == []
    assert container.store_queries.approved_version(version_id) is None

    # the read model equals a rebuild from the event stores
    live = _snapshot(container)
    rebuild_projection(container.read_store, projection_named("store_listings"), reader(container.event_logs))
    assert _snapshot(container) == live


class Tokenless:
    """The same app and event loop, without the session's consistency tokens (as another client would ask)."""

    def __init__(self, client: TestClient) -> None:
        self._client = client

    def get(self, url: str, **kwargs: Any) -> Any:
        return TestClient.request(self._client, "GET", url, **kwargs)


def wait_for_runs(client: TestClient, headers: dict[str, str], graph_id: str, run_id: str) -> None:
    for _ in range(500):
        response = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if response.status_code == 200 and response.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
            return
        time.sleep(0.02)
    raise AssertionError("the run did not end")


def _snapshot(container: Container) -> dict[str, list[dict[str, Any]]]:
    assert {t.name for t in TABLES} == set(KEYS)
    return {table: table_rows(container.read_store, table, order) for table, order in KEYS.items()}


def test_bad_input_is_a_clear_4xx_and_records_nothing(platform: tuple[Container, SessionClient, str | None]) -> None:
    container, client, _ = platform
    alice = jwt(container, "alice")
    heads = {context: log.head() for context, log in container.event_logs.items()}
    for url in (
        "/api/store/agents?search_query=%00",
        "/api/store/agents?creator=%00&category=%00",
        "/api/store/agents?page_size=101",
        "/api/store/agents?page=x",
        "/api/store/creators?search_query=" + "x" * 101,
        "/api/store/creator/%2500",
        "/api/store/agents/a%00/b%00",
    ):
        answer = client.get(url, headers=alice)
        assert 400 <= answer.status_code < 500 or answer.status_code == 200, (url, answer.text)
    for body in (
        {"name": "A", "username": "bad name"},
        {"name": "", "username": "alice"},
        {"name": "A", "username": "a" * 65},
        {"name": "A", "username": "alice", "links": ["x"] * 11},
    ):
        assert client.post("/api/store/profile", json=body, headers=alice).status_code == 422, body
    # a username given up is free again
    carol, dave = jwt(container, "carol"), jwt(container, "dave")
    ok(client.post("/api/store/profile", json={"name": "C", "username": "carol"}, headers=carol))
    assert client.post("/api/store/profile", json={"name": "D", "username": "carol"}, headers=dave).status_code == 409
    ok(client.post("/api/store/profile", json={"name": "C", "username": "caroline"}, headers=carol))
    assert ok(client.post("/api/store/profile", json={"name": "D", "username": "Carol"}, headers=dave))["username"] == (
        "carol"
    )
    assert ok(client.get("/api/store/profile", headers=carol))["username"] == "caroline"
    graph_id = ok(client.post("/api/graphs", json={"graph": calculator("Adder")}, headers=alice))["id"]
    heads = {context: log.head() for context, log in container.event_logs.items()}
    for bad in (
        {"slug": "has space"},
        {"agent_version": 0},
        {"categories": ["x"] * 11},
        {"image_urls": ["u"] * 21},
        {"name": ""},
    ):
        answer = client.post(
            "/api/store/submissions", json={**submission(graph_id, "adder", "Adder"), **bad}, headers=alice
        )
        assert answer.status_code == 422, bad
    assert client.delete("/api/store/submissions/%00", headers=alice).status_code == 422
    assert client.delete("/api/store/submissions/not-a-uuid", headers=alice).status_code == 404
    review = {"store_listing_version_id": "x\u0000", "is_approved": True, "comments": ""}
    admin = jwt(container, "root", role="admin")
    assert client.post("/api/store/admin/submissions/nope/review", json=review, headers=admin).status_code in (400, 422)
    review["store_listing_version_id"] = "nope"
    assert client.post("/api/store/admin/submissions/nope/review", json=review, headers=admin).status_code == 404
    assert {context: log.head() for context, log in container.event_logs.items()} == heads
