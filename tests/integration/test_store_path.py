"""The store's whole path through HTTP, in each mode: submission -> approval -> listing -> library -> run -> rating.

Alice submits a graph; the admin approves it (Alice is told: AGENT_APPROVED);
it is listed; Bob adds it to his library from the store (no copy: the graph
stays Alice's), runs it as himself and rates it; the listing shows Bob's run
(Alice's own run is not counted) and his score.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from api.auth import mint_token
from api.composition import Container, build_container
from tests.integration.conftest import Mode
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration

JWT_KEY = "store-path-test-key-" + "p" * 32
FINAL = ("COMPLETED", "FAILED", "TERMINATED")


@pytest.fixture
def platform(mode: Mode) -> Iterator[tuple[Container, SessionClient]]:
    container = build_container(mode.settings(JWT_VERIFY_KEY=JWT_KEY))
    client = SessionClient(mode.app(container, executor=True, projector=True))
    with client:
        yield container, client
    container.close()


def jwt(container: Container, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user, role=role)}"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def eventually(read: Callable[[], Any], holds: Callable[[Any], bool], what: str) -> Any:
    """``read()`` once ``holds`` (read models in other Kafka partitions may lag the answer's token a moment)."""
    deadline = time.monotonic() + 60
    while not holds(found := read()):
        assert time.monotonic() < deadline, f"{what}: {found}"
        time.sleep(0.05)
    return found


def run_to_end(client: SessionClient, headers: dict[str, str], graph_id: str, inputs: dict[str, Any]) -> Any:
    run = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs}, headers=headers))
    return eventually(
        lambda: client.get(f"/api/graphs/{graph_id}/executions/{run['id']}", headers=headers).json(),
        lambda found: found.get("status") in FINAL,
        "the run did not end",
    )


def test_submission_approval_listing_library_run_and_rating(platform: tuple[Container, SessionClient]) -> None:
    container, client = platform
    alice, bob = jwt(container, "alice"), jwt(container, "bob")
    admin = jwt(container, "root", role="admin")

    ok(client.post("/api/store/profile", json={"name": "Alice", "username": "alice"}, headers=alice))
    graph_id = ok(client.post("/api/graphs", json={"graph": calculator("Adder", b=2)}, headers=alice))["id"]
    body = {"agent_id": graph_id, "agent_version": 1, "slug": "adder", "name": "Adder", "description": "adds two"}
    version_id = ok(client.post("/api/store/submissions", json=body, headers=alice))["store_listing_version_id"]

    # not in the store and not addable while pending
    assert (
        client.post("/api/library/agents", json={"store_listing_version_id": version_id}, headers=bob).status_code
        == 404
    )
    review = {"store_listing_version_id": version_id, "is_approved": True, "comments": "well done"}
    ok(client.post(f"/api/store/admin/submissions/{version_id}/review", json=review, headers=admin))
    listed = ok(client.get("/api/store/agents", headers=bob))["agents"]
    assert [(a["slug"], a["creator"], a["runs"]) for a in listed] == [("adder", "alice", 0)]

    # Alice is told; Bob is not
    told = eventually(
        lambda: ok(client.get("/api/notifications", headers=alice)),
        lambda page: any(n["type"] == "AGENT_APPROVED" for n in page["notifications"]),
        "no AGENT_APPROVED for the creator",
    )
    approved = next(n for n in told["notifications"] if n["type"] == "AGENT_APPROVED")
    assert approved["data"]["agent_name"] == "Adder"
    assert all(
        n["type"] != "AGENT_APPROVED" for n in ok(client.get("/api/notifications", headers=bob))["notifications"]
    )

    # Bob adds it from the store: an entry pointing at Alice's graph version, not a copy
    entry = ok(client.post("/api/library/agents", json={"store_listing_version_id": version_id}, headers=bob), 201)
    assert (entry["graph_id"], entry["graph_version"], entry["can_access_graph"]) == (graph_id, 1, False)
    assert client.get(f"/api/graphs/{graph_id}", headers=bob).status_code == 404

    # Bob runs it as himself; Alice's own run is not counted
    bobs = run_to_end(client, bob, graph_id, {"Input": 40})
    assert bobs["status"] == "COMPLETED" and bobs["outputs"] == {"Output": [42]}
    assert run_to_end(client, alice, graph_id, {"Input": 1})["status"] == "COMPLETED"
    assert client.get(f"/api/graphs/{graph_id}/executions/{bobs['id']}", headers=alice).status_code == 404

    # Bob rates it; the listing shows his run and his score
    rated = {"store_listing_version_id": version_id, "score": 4, "comments": "handy"}
    ok(client.post("/api/store/agents/alice/adder/review", json=rated, headers=bob))
    details = eventually(
        lambda: ok(client.get("/api/store/agents/alice/adder", headers=bob)),
        lambda found: found["runs"] == 1 and found["rating"] == 4,
        "the listing did not show Bob's run and score",
    )
    assert details["store_listing_version_id"] == version_id
