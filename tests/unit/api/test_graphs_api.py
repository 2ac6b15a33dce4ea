"""The graphs API as a client sees it: create, version, activate, delete, export."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from tests.autogpt_wire import GRAPH_KEY_ORDER
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator


def test_create_then_get_returns_the_graph_with_fresh_ids(client: TestClient, auth: AuthHeaders) -> None:
    created = client.post("/api/graphs", json={"graph": calculator()}, headers=auth())
    assert created.status_code == 200, created.text
    graph = created.json()
    assert graph["version"] == 1 and graph["is_active"] is True
    node_ids = {n["id"] for n in graph["nodes"]}
    assert node_ids.isdisjoint({"in", "calc", "out"})  # fresh ids
    assert all(link["source_id"] in node_ids and link["sink_id"] in node_ids for link in graph["links"])
    assert graph["input_schema"]["required"] == ["Input"]
    assert list(graph["output_schema"]["properties"]) == ["Output"]

    fetched = client.get(f"/api/graphs/{graph['id']}", headers=auth()).json()
    assert fetched["nodes"] == graph["nodes"] and fetched["links"] == graph["links"]


def test_a_bare_graph_body_is_accepted_too(client: TestClient, auth: AuthHeaders) -> None:
    response = client.post("/api/graphs", json=calculator("bare"), headers=auth())
    assert response.status_code == 200
    assert response.json()["name"] == "bare"


def test_put_creates_the_next_version_and_old_versions_stay(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator(b=1)}, headers=auth()).json()
    v2 = client.put(f"/api/graphs/{graph['id']}", json={"graph": calculator(b=2)}, headers=auth()).json()
    assert v2["version"] == 2 and v2["is_active"]
    v1 = client.get(f"/api/graphs/{graph['id']}?version=1", headers=auth()).json()
    b_of = lambda g: next(n["input_default"]["b"] for n in g["nodes"] if "b" in n["input_default"])  # noqa: E731
    assert (b_of(v1), b_of(v2), v1["is_active"]) == (1, 2, False)
    versions = client.get(f"/api/graphs/{graph['id']}/versions", headers=auth()).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert client.get(f"/api/graphs/{graph['id']}/versions/1", headers=auth()).json()["version"] == 1
    assert client.get(f"/api/graphs/{graph['id']}?version=9", headers=auth()).status_code == 404


def test_choosing_the_active_version(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
    client.put(f"/api/graphs/{graph['id']}", json={"graph": calculator("v2")}, headers=auth())
    response = client.put(
        f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 1}, headers=auth()
    )
    assert response.status_code == 200
    assert client.get(f"/api/graphs/{graph['id']}", headers=auth()).json()["version"] == 1
    missing = client.put(f"/api/graphs/{graph['id']}/versions/active", json={"active_graph_version": 5}, headers=auth())
    assert missing.status_code == 404


def test_delete_hides_the_graph(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
    client.put(f"/api/graphs/{graph['id']}", json={"graph": calculator("v2")}, headers=auth())
    deleted = client.delete(f"/api/graphs/{graph['id']}", headers=auth())
    assert deleted.json()["version_counts"] == 2
    assert client.get(f"/api/graphs/{graph['id']}", headers=auth()).status_code == 404
    assert client.get("/api/graphs", headers=auth()).json() == []
    assert client.put(f"/api/graphs/{graph['id']}", json=calculator(), headers=auth()).status_code == 404


def test_list_shows_only_the_callers_graphs_newest_first(client: TestClient, auth: AuthHeaders) -> None:
    first = client.post("/api/graphs", json={"graph": calculator("one")}, headers=auth("alice")).json()
    second = client.post("/api/graphs", json={"graph": calculator("two")}, headers=auth("alice")).json()
    client.post("/api/graphs", json={"graph": calculator("bob's")}, headers=auth("bob"))
    listed = client.get("/api/graphs", headers=auth("alice")).json()
    assert [g["id"] for g in listed] == [second["id"], first["id"]]


def test_another_users_graph_is_not_found_never_forbidden(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth("alice")).json()
    gid = graph["id"]
    bob = auth("bob")
    for method, path, body in [
        ("GET", f"/api/graphs/{gid}", None),
        ("GET", f"/api/graphs/{gid}/versions", None),
        ("GET", f"/api/graphs/{gid}/export", None),
        ("PUT", f"/api/graphs/{gid}", {"graph": calculator()}),
        ("PUT", f"/api/graphs/{gid}/versions/active", {"active_graph_version": 1}),
        ("DELETE", f"/api/graphs/{gid}", None),
    ]:
        response = client.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["code"] == "graph_not_found"
    assert client.get("/api/graphs", headers=bob).json() == []
    # alice's graph is untouched by bob's attempts
    assert client.get(f"/api/graphs/{gid}", headers=auth("alice")).json()["version"] == 1


def test_unknown_and_malformed_ids_are_404(client: TestClient, auth: AuthHeaders) -> None:
    assert client.get(f"/api/graphs/{uuid.uuid4()}", headers=auth()).status_code == 404
    assert client.get("/api/graphs/not-a-uuid", headers=auth()).status_code == 404


def test_export_gives_autogpt_json_that_imports_again(client: TestClient, auth: AuthHeaders) -> None:
    graph = client.post("/api/graphs", json={"graph": calculator()}, headers=auth()).json()
    exported = client.get(f"/api/graphs/{graph['id']}/export", headers=auth()).json()
    assert list(exported) == GRAPH_KEY_ORDER
    assert exported["user_id"] == ""
    node = exported["nodes"][0]
    assert set(node) == {
        "id",
        "block_id",
        "input_default",
        "metadata",
        "input_links",
        "output_links",
        "graph_id",
        "graph_version",
        "webhook_id",
    }
    again = client.post("/api/graphs", json=exported, headers=auth()).json()
    assert again["id"] != graph["id"]
    assert len(again["nodes"]) == 3 and len(again["links"]) == 2


def test_secrets_are_never_stored(client: TestClient, auth: AuthHeaders) -> None:
    body = calculator()
    body["nodes"][0]["input_default"].update({"secret": True, "value": "hunter2"})
    body["nodes"][1]["input_default"]["api_key"] = "sk-live-123"
    graph = client.post("/api/graphs", json={"graph": body}, headers=auth()).json()
    text = client.get(f"/api/graphs/{graph['id']}", headers=auth()).text
    assert "hunter2" not in text and "sk-live-123" not in text
