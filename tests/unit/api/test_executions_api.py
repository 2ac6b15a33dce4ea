"""Executions through the API: run, read, list, stop; ownership and bad input."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tests.autogpt_wire import GRAPH_EXECUTION_META
from tests.fakes.http_server import FakeHTTPServer
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator

FINAL = ("COMPLETED", "FAILED", "TERMINATED")
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


def _graph(client: TestClient, headers: dict[str, str], body: dict[str, Any] | None = None) -> str:
    response = client.post("/api/graphs", json={"graph": body or calculator()}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _wait(client: TestClient, headers: dict[str, str], graph_id: str, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        run: dict[str, Any] = client.get(f"/api/graphs/{graph_id}/executions/{execution_id}", headers=headers).json()
        if run["status"] in FINAL or time.monotonic() > deadline:
            return run
        time.sleep(0.02)


def test_run_a_graph_and_read_the_result(running_client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(running_client, auth())
    started = running_client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 8}}, headers=auth())
    assert started.status_code == 200
    body = started.json()
    assert set(body) == GRAPH_EXECUTION_META | {"consistency_token"}
    assert body["consistency_token"] == started.headers["X-Consistency-Token"]
    assert (body["graph_id"], body["graph_version"], body["status"]) == (graph_id, 1, "QUEUED")

    run = _wait(running_client, auth(), graph_id, body["id"])
    assert run["status"] == "COMPLETED"
    assert run["outputs"] == {"Output": [42.0]}
    assert run["inputs"] == {"Input": 8}
    assert run["started_at"] and run["ended_at"]
    assert run["stats"]["node_exec_count"] == 3
    nodes = run["node_executions"]
    assert len(nodes) == 3
    assert set(nodes[0]) >= {
        "node_exec_id",
        "node_id",
        "block_id",
        "status",
        "input_data",
        "output_data",
        "start_time",
        "end_time",
    }
    calc = next(n for n in nodes if n["block_id"] == "b1ab9b19-67a6-406d-abf5-2dba76d00c79")
    assert calc["input_data"]["a"] == 8 and calc["output_data"] == {"result": [42.0]}


def test_missing_inputs_are_400_with_node_errors_and_nothing_runs(client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(client, auth())
    response = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {}}, headers=auth())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "graph_invalid"
    ((_, pins),) = body["detail"]["node_errors"].items()
    assert pins == {"Input": "This field is required"}
    assert client.get("/api/executions", headers=auth()).json() == []


def test_wrong_body_types_are_422(client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(client, auth())
    response = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": [1, 2]}, headers=auth())
    assert response.status_code == 422
    assert response.json()["code"] == "request_invalid"


def test_someone_elses_deleted_or_unknown_graph_is_404(client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(client, auth("alice"))
    body = {"inputs": {"Input": 1}}
    assert client.post(f"/api/graphs/{graph_id}/execute/1", json=body, headers=auth("bob")).status_code == 404
    assert client.post(f"/api/graphs/{graph_id}/execute/7", json=body, headers=auth("alice")).status_code == 404
    assert client.post(f"/api/graphs/{uuid.uuid4()}/execute/1", json=body, headers=auth()).status_code == 404
    client.delete(f"/api/graphs/{graph_id}", headers=auth("alice"))
    gone = client.post(f"/api/graphs/{graph_id}/execute/1", json=body, headers=auth("alice"))
    assert gone.status_code == 404 and gone.json()["code"] == "graph_not_found"


def test_runs_are_listed_newest_first_with_pagination(running_client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(running_client, auth())
    other = _graph(running_client, auth())
    ids = [
        running_client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": i}}, headers=auth()).json()[
            "id"
        ]
        for i in range(3)
    ]
    running_client.post(f"/api/graphs/{other}/execute/1", json={"inputs": {"Input": 9}}, headers=auth())
    page = running_client.get(f"/api/graphs/{graph_id}/executions?page=1&page_size=2", headers=auth()).json()
    assert [e["id"] for e in page["executions"]] == [ids[2], ids[1]]
    assert page["pagination"] == {"total_items": 3, "total_pages": 2, "current_page": 1, "page_size": 2}
    second = running_client.get(f"/api/graphs/{graph_id}/executions?page=2&page_size=2", headers=auth()).json()
    assert [e["id"] for e in second["executions"]] == [ids[0]]
    everything = running_client.get("/api/executions", headers=auth())
    assert everything.headers["X-Total-Count"] == "4" and len(everything.json()) == 4
    assert set(everything.json()[0]) == GRAPH_EXECUTION_META  # a bare list of runs without results, as AutoGPT
    assert running_client.get("/api/executions", headers=auth("bob")).json() == []


def test_another_users_run_is_404(running_client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(running_client, auth("alice"))
    run_id = running_client.post(
        f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 1}}, headers=auth("alice")
    ).json()["id"]
    assert running_client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=auth("bob")).status_code == 404
    stop = running_client.post(f"/api/graphs/{graph_id}/executions/{run_id}/stop", headers=auth("bob"))
    assert stop.status_code == 404 and stop.json()["code"] == "execution_not_found"
    assert running_client.get(f"/api/graphs/{graph_id}/executions/nope", headers=auth("alice")).status_code == 404


def test_stop_answers_with_the_terminated_run(
    running_client: TestClient, auth: AuthHeaders, fake_http: FakeHTTPServer
) -> None:
    fake_http.delay("/slow", 30)
    call = {"url": fake_http.url("/slow"), "method": "GET"}
    body = {
        "name": "waits on a slow API",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
            {"id": "call", "block_id": WEB_REQUEST, "input_default": call},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "Output"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "call", "source_name": "result", "sink_name": "headers_#_X-Input"},
            {"source_id": "call", "sink_id": "out", "source_name": "response", "sink_name": "value"},
        ],
    }
    graph_id = _graph(running_client, auth(), body)
    started = running_client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": "x"}}, headers=auth())
    run_id = started.json()["id"]
    deadline = time.monotonic() + 5
    while fake_http.hits("/slow") == 0:  # the block is now waiting on the slow server
        assert time.monotonic() < deadline
        time.sleep(0.01)
    asked = time.monotonic()
    stopped = running_client.post(f"/api/graphs/{graph_id}/executions/{run_id}/stop", headers=auth())
    assert time.monotonic() - asked < 2.0
    assert stopped.status_code == 200
    run = stopped.json()
    assert run["status"] == "TERMINATED"
    statuses = {n["node_id"]: n["status"] for n in run["node_executions"]}
    assert list(statuses.values()) == ["COMPLETED", "TERMINATED"]
    assert run["outputs"] == {}
    # the stop is a command: its token names the stop request it recorded
    assert stopped.headers["x-consistency-token"] == run["consistency_token"]
    assert run["consistency_token"].startswith("executions:")
    again = running_client.post(f"/api/graphs/{graph_id}/executions/{run_id}/stop", headers=auth())
    assert again.json()["status"] == "TERMINATED"  # stopping an ended run changes nothing
    assert again.json()["consistency_token"] is None and "x-consistency-token" not in again.headers


def test_inputs_shaped_like_the_stores_own_tags_read_back_unchanged(client: TestClient, auth: AuthHeaders) -> None:
    graph_id = _graph(client, auth())
    tricky = {"_type_": "dict", "_data_": [["a", 1]], "nested": {"_type_": "uuid_hex", "_data_": "x"}}
    inputs = {"Input": 1, "tag": {"_type_": "decimal_str", "_data_": "1.5"}, "other": tricky}
    started = client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": inputs}, headers=auth())
    assert started.status_code == 200, started.text
    token = started.json()["consistency_token"]
    runs = client.get("/api/executions", headers={**auth(), "X-Consistency-Token": token}).json()
    assert runs[0]["inputs"] == inputs == started.json()["inputs"]
