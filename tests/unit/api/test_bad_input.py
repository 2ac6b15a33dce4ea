"""Bad input gets a structured 4xx and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import CALCULATOR, calculator


def _broken(kind: str) -> Any:
    body = calculator()
    if kind == "unknown block":
        body["nodes"][1]["block_id"] = "11111111-2222-3333-4444-555555555555"
    elif kind == "link to a missing node":
        body["links"][0]["sink_id"] = "nowhere"
    elif kind == "link from a missing pin":
        body["links"][1]["source_name"] = "no_such_pin"
    elif kind == "missing required input":
        body["nodes"][1]["input_default"] = {"operation": "Add"}
    elif kind == "nodes is not a list":
        body["nodes"] = "oops"
    elif kind == "input_default is not a dict":
        body["nodes"][1]["input_default"] = [1, 2]
    elif kind == "link without sink":
        del body["links"][0]["sink_id"]
    elif kind == "name is a number":
        body["name"] = {"not": "a string"}
    return body


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("unknown block", 400, "graph_invalid"),
        ("link to a missing node", 400, "graph_invalid"),
        ("link from a missing pin", 400, "graph_invalid"),
        ("missing required input", 400, "graph_invalid"),
        ("nodes is not a list", 422, "request_invalid"),
        ("input_default is not a dict", 422, "request_invalid"),
        ("link without sink", 422, "request_invalid"),
        ("name is a number", 422, "request_invalid"),
    ],
)
def test_invalid_graphs_are_rejected_and_nothing_is_stored(
    client: TestClient, auth: AuthHeaders, kind: str, status: int, code: str
) -> None:
    before = client.get("/api/graphs", headers=auth()).json()
    response = client.post("/api/graphs", json={"graph": _broken(kind)}, headers=auth())
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    if code == "graph_invalid":
        assert body["detail"]["node_errors"] or body["detail"]["graph_errors"]
    else:
        assert body["detail"] and all("loc" in e and "msg" in e for e in body["detail"])
        assert body["message"] == "Invalid data for POST /api/graphs"
        assert body["hint"] == "Ensure the request matches the API schema."
    assert client.get("/api/graphs", headers=auth()).json() == before


def test_the_unknown_block_error_names_the_node_and_block(client: TestClient, auth: AuthHeaders) -> None:
    body = client.post("/api/graphs", json={"graph": _broken("unknown block")}, headers=auth()).json()
    ((node_id, pins),) = body["detail"]["node_errors"].items()
    assert pins == {"block_id": f"Invalid block 11111111-2222-3333-4444-555555555555 for node #{node_id}"}


def test_an_invalid_new_version_leaves_the_graph_as_it_was(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
    response = client.put(f"/api/graphs/{graph['id']}", json={"graph": _broken("unknown block")}, headers=auth())
    assert response.status_code == 400
    versions = client.get(f"/api/graphs/{graph['id']}/versions", headers=auth()).json()
    assert [v["version"] for v in versions] == [1]


def test_malformed_json_is_400(client: TestClient, auth: AuthHeaders) -> None:
    headers = {**auth(), "Content-Type": "application/json"}
    response = client.post("/api/graphs", content=b'{"graph": {"name": ', headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert client.get("/api/graphs", headers=auth()).json() == []


def test_a_body_over_10_mb_is_413_before_it_is_read(client: TestClient, auth: AuthHeaders) -> None:
    body = b'{"graph": {"name": "' + b"x" * (10 * 1024 * 1024) + b'"}}'
    response = client.post("/api/graphs", content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert client.get("/api/graphs", headers=auth()).json() == []


def test_a_streamed_body_is_cut_off_at_the_limit(client: TestClient, auth: AuthHeaders) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"graph": {"name": "'
        for _ in range(12):  # 12 MiB, no Content-Length: chunked transfer
            sent += 1
            yield b"x" * (1024 * 1024)
        yield b'"}}'

    response = client.post("/api/graphs", content=chunks(), headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert client.get("/api/graphs", headers=auth()).json() == []


def test_wrong_active_version_body_is_422(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
    response = client.put(
        f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": "two"}, headers=auth()
    )
    assert response.status_code == 422
    assert response.json()["code"] == "request_invalid"


def test_calculator_block_id_is_known(client: TestClient, auth: AuthHeaders) -> None:
    ids = {b["id"] for b in client.get("/api/blocks", headers=auth()).json()}
    assert CALCULATOR in ids


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize("depth", [65, 300, 900])
def test_values_nested_beyond_the_limit_are_422_and_nothing_is_stored(
    running_client: TestClient, auth: AuthHeaders, depth: int
) -> None:
    graph_id = running_client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()["id"]
    run = running_client.post(
        f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": _nested(depth)}}, headers=auth()
    )
    assert run.status_code == 422, run.text
    assert "nests deeper than 64 levels" in run.text
    graph = calculator()
    graph["nodes"][0]["metadata"] = _nested(depth)
    assert running_client.post("/api/graphs", json={"graph": graph}, headers=auth()).status_code == 422
    block = running_client.post(
        "/api/blocks/b1ab9b19-67a6-406d-abf5-2dba76d00c79/execute", json={"a": _nested(depth)}, headers=auth()
    )
    assert block.status_code == 422
    assert running_client.get("/api/executions", headers=auth()).json() == []
    assert len(running_client.get("/api/graphs", headers=auth()).json()) == 1


def test_a_value_at_the_limit_is_accepted(running_client: TestClient, auth: AuthHeaders) -> None:
    graph_id = running_client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()["id"]
    run = running_client.post(
        f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": _nested(60)}}, headers=auth()
    )
    assert run.status_code == 200, run.text
