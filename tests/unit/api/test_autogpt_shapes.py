"""Our answers carry AutoGPT's field sets (facts in tests/autogpt_wire.py), so its clients read them unchanged."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.autogpt_wire import (
    EXECUTION_STATS,
    GRAPH_EXECUTION_META,
    GRAPH_EXECUTION_WITH_NODES,
    GRAPH_KEY_ORDER,
    GRAPH_META,
    GRAPH_MODEL,
    LINK,
    NODE_EXECUTION_RESULT,
    NODE_MODEL,
    SUB_GRAPH_NODE,
)
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator

AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"


def _create(client: TestClient, headers: dict[str, str], graph: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/graphs", json={"graph": graph}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_created_graph_answers_autogpts_graph_model_plus_our_token(client: TestClient, auth: AuthHeaders) -> None:
    created = _create(client, auth(), calculator())
    assert set(created) == GRAPH_MODEL | {"consistency_token"}
    assert list(created) == [*GRAPH_KEY_ORDER, "consistency_token"]  # AutoGPT's newest key order
    for node in created["nodes"]:
        assert set(node) == NODE_MODEL
        assert (node["graph_id"], node["graph_version"]) == (created["id"], 1)
    calc = next(n for n in created["nodes"] if n["input_default"].get("operation") == "Add")
    assert [set(link) for link in calc["input_links"] + calc["output_links"]] == [LINK, LINK]
    assert created["has_external_trigger"] is False and created["trigger_setup_info"] is None
    assert created["input_schema"]["required"] == ["Input"]


def test_get_lists_graph_meta_and_reads_the_graph_model(client: TestClient, auth: AuthHeaders) -> None:
    created = _create(client, auth(), calculator())
    listed = client.get("/api/graphs", headers=auth()).json()
    assert [set(g) for g in listed] == [GRAPH_META]  # no nodes, no links
    one = client.get(f"/api/graphs/{created['id']}", headers=auth()).json()
    assert set(one) == GRAPH_MODEL
    assert one["nodes"] == created["nodes"] and one["user_id"] == "alice"
    assert [set(v) for v in client.get(f"/api/graphs/{created['id']}/versions", headers=auth()).json()] == [GRAPH_MODEL]


def test_for_export_answers_the_export_with_its_sub_graphs(client: TestClient, auth: AuthHeaders) -> None:
    child = _create(client, auth(), calculator("Child"))
    parent_graph = {
        "name": "Parent",
        "description": "runs the child",
        "nodes": [
            {
                "id": "agent",
                "block_id": AGENT_EXECUTOR,
                "input_default": {
                    "graph_id": child["id"],
                    "graph_version": 1,
                    "user_id": "alice",
                    "inputs": {"Input": 1},
                    "input_schema": child["input_schema"],
                    "output_schema": child["output_schema"],
                },
            }
        ],
        "links": [],
    }
    parent = _create(client, auth(), parent_graph)
    export = client.get(f"/api/graphs/{parent['id']}", params={"for_export": "true"}, headers=auth()).json()
    assert set(export) == GRAPH_MODEL
    assert export["user_id"] == ""
    assert [node["webhook_id"] for node in export["nodes"]] == [None]
    (sub_graph,) = export["sub_graphs"]
    assert (sub_graph["id"], sub_graph["name"]) == (child["id"], "Child")
    assert "user_id" not in sub_graph and "credentials_input_schema" not in sub_graph
    assert all(set(node) == SUB_GRAPH_NODE for node in sub_graph["nodes"])
    # someone else's graph is never collected into an export
    assert client.get(f"/api/graphs/{parent['id']}?for_export=true", headers=auth("bob")).status_code == 404


def test_runs_answer_autogpts_execution_shapes(running_client: TestClient, auth: AuthHeaders) -> None:
    graph = _create(running_client, auth(), calculator())
    started = running_client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 8}}, headers=auth())
    assert set(started.json()) == GRAPH_EXECUTION_META | {"consistency_token"}
    run_id = started.json()["id"]
    deadline = time.monotonic() + 10
    while (run := running_client.get(f"/api/graphs/{graph['id']}/executions/{run_id}", headers=auth()).json())[
        "status"
    ] != "COMPLETED":
        assert time.monotonic() < deadline, run
        time.sleep(0.02)
    assert set(run) == GRAPH_EXECUTION_WITH_NODES
    assert set(run["stats"]) >= EXECUTION_STATS
    assert run["outputs"] == {"Output": [42.0]}
    # AutoGPT's node result, plus our node stats (walltime, cputime, ...)
    assert [set(node) for node in run["node_executions"]] == [NODE_EXECUTION_RESULT | {"stats"}] * 3
    assert all(node["stats"]["walltime"] >= 0 for node in run["node_executions"])
    assert all(node["graph_exec_id"] == run_id for node in run["node_executions"])
    queued = [node["queue_time"] for node in run["node_executions"]]
    assert queued == sorted(queued)  # in queue order, as AutoGPT lists them
    listed = running_client.get("/api/executions", headers=auth()).json()
    assert [set(meta) for meta in listed] == [GRAPH_EXECUTION_META]
    page = running_client.get(f"/api/graphs/{graph['id']}/executions", headers=auth()).json()
    assert set(page) == {"executions", "pagination"}


def test_an_invalid_run_is_autogpts_400(client: TestClient, auth: AuthHeaders) -> None:
    graph = _create(client, auth(), calculator())
    response = client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {}}, headers=auth())
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert set(body["detail"]) == {"type", "message", "node_errors", "graph_errors"}
    assert body["detail"]["type"] == "validation_error"


@pytest.mark.parametrize("body", [{}, {"foo": 1}, [], [{"name": "x"}], {"graph": {}}, {"graph": []}, "text"])
def test_a_body_that_is_not_a_graph_is_autogpts_422_and_nothing_is_stored(
    client: TestClient, auth: AuthHeaders, body: Any
) -> None:
    response = client.post("/api/graphs", json=body, headers=auth())
    assert response.status_code == 422, response.text
    answer = response.json()
    assert set(answer) == {"message", "detail", "hint", "code"}
    assert answer["message"] == "Invalid data for POST /api/graphs"
    assert answer["hint"] == "Ensure the request matches the API schema."
    assert answer["detail"] and all({"loc", "msg", "type"} <= set(error) for error in answer["detail"])
    assert client.get("/api/graphs", headers=auth()).json() == []


def test_what_a_command_answers_is_what_the_queries_read(client: TestClient, auth: AuthHeaders) -> None:
    graph = {
        **calculator(),
        "recommended_schedule_cron": "0 9 * * 1",
        "forked_from_id": "3f1ac1c6-7d5c-4c39-9d2e-1e0bb3c9a001",
        "forked_from_version": 4,
    }
    created = _create(client, auth(), graph)
    token = created.pop("consistency_token")
    read = client.get(f"/api/graphs/{created['id']}", headers={**auth(), "X-Consistency-Token": token}).json()
    assert read == created
    listed = client.get("/api/graphs", headers=auth()).json()
    assert listed == [{key: created[key] for key in listed[0]}]

    reference = {"id": "cred-1", "provider": "openai", "type": "api_key", "title": "mine"}
    started = client.post(
        f"/api/graphs/{created['id']}/execute/1",
        json={"inputs": {"Input": 1}, "credentials_inputs": {"credentials": reference}},
        headers=auth(),
    ).json()
    token = started.pop("consistency_token")
    runs = client.get("/api/executions", headers={**auth(), "X-Consistency-Token": token}).json()
    assert runs == [started]  # no executor here: the run is still QUEUED, as the command answered
    assert started["credential_inputs"] == {"credentials": reference}


def test_any_spelling_of_an_id_names_the_same_graph_and_run(client: TestClient, auth: AuthHeaders) -> None:
    graph = _create(client, auth(), calculator())
    started = client.post(f"/api/graphs/{graph['id'].upper()}/execute/1", json={"inputs": {"Input": 1}}, headers=auth())
    assert started.status_code == 200 and started.json()["graph_id"] == graph["id"]
    run, token = started.json()["id"], started.json()["consistency_token"]
    read = client.get(
        f"/api/graphs/{{{graph['id']}}}/executions/urn:uuid:{run.upper()}",
        headers={**auth(), "X-Consistency-Token": token},
    )
    assert read.status_code == 200 and (read.json()["id"], read.json()["graph_id"]) == (run, graph["id"])
    listed = client.get(f"/api/graphs/{graph['id']}/executions", headers=auth()).json()
    assert [r["id"] for r in listed["executions"]] == [run]
