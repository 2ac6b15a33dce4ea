"""Ids and numbers as a client may spell them: one canonical id per resource, numbers the stores can hold.

Any spelling of a UUID (upper case, no dashes, braces, ``urn:uuid:``) names
the same graph wherever an id is taken, in a path or in a body, and is
recorded in its canonical form; a number too large for the stores is a 422
at the edge, never recorded (where it would stop a projection for everyone).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator

AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"


def _spellings(graph_id: str) -> list[str]:
    return [graph_id.upper(), graph_id.replace("-", ""), f"{{{graph_id}}}", f"urn:uuid:{graph_id}"]


def test_a_fork_reference_in_any_spelling_is_recorded_canonical(client: TestClient, auth: AuthHeaders) -> None:
    origin = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()["id"]
    for spelling in _spellings(origin):
        forked = {**calculator("Fork"), "forked_from_id": spelling, "forked_from_version": 1}
        created = client.post("/api/graphs", json={"graph": forked}, headers=auth())
        assert created.status_code == 200 and created.json()["forked_from_id"] == origin
        read = client.get(f"/api/graphs/{created.json()['id']}", headers=auth())
        assert read.json()["forked_from_id"] == origin
    refused = client.post(
        "/api/graphs", json={"graph": {**calculator(), "forked_from_id": "not-a-uuid"}}, headers=auth()
    )
    assert refused.status_code == 422 and refused.json()["code"] == "request_invalid"


def _wait_for_status(client: TestClient, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (run := client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers).json()).get(
        "status"
    ) not in ("COMPLETED", "FAILED"):
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
    return run


def test_a_sub_agent_named_in_any_spelling_runs_under_the_canonical_graph_id(
    running_client: TestClient, auth: AuthHeaders
) -> None:
    child = running_client.post("/api/graphs", json={"graph": calculator("Child")}, headers=auth()).json()
    agent = {
        "id": "agent",
        "block_id": AGENT_EXECUTOR,
        "input_default": {
            "graph_id": child["id"].upper(),
            "graph_version": 1,
            "user_id": "alice",
            "inputs": {"Input": 8},
            "input_schema": child["input_schema"],
            "output_schema": child["output_schema"],
        },
    }
    parent = running_client.post(
        "/api/graphs", json={"graph": {"name": "Parent", "nodes": [agent], "links": []}}, headers=auth()
    ).json()
    started = running_client.post(f"/api/graphs/{parent['id']}/execute/1", json={"inputs": {}}, headers=auth())
    run = _wait_for_status(running_client, auth(), parent["id"], started.json()["id"])
    assert run["status"] == "COMPLETED", run
    child_runs = running_client.get(f"/api/graphs/{child['id']}/executions", headers=auth()).json()["executions"]
    assert [r["graph_id"] for r in child_runs] == [child["id"]]


@pytest.mark.parametrize("number", [2**31, 9223372036854775808, 99999999999999999999])
def test_a_version_number_too_large_for_the_stores_is_422_and_nothing_is_recorded(
    client: TestClient, auth: AuthHeaders, number: int
) -> None:
    graph = {**calculator(), "forked_from_id": None, "forked_from_version": number}
    refused = client.post("/api/graphs", json={"graph": graph}, headers=auth())
    assert refused.status_code == 422 and refused.json()["code"] == "request_invalid"
    # the graphs read model keeps up: the next graph is readable at once
    created = client.post("/api/graphs", json={"graph": calculator("Next")}, headers=auth())
    token = created.json()["consistency_token"]
    listed = client.get("/api/graphs", headers={**auth(), "X-Consistency-Token": token})
    assert "X-Consistency-Stale" not in listed.headers
    assert [g["name"] for g in listed.json()] == ["Next"]
