"""Real AutoGPT agent exports import, or fail with structured validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.autogpt_facts import agent_exports
from tests.unit.api.conftest import AuthHeaders

EXPORTS = agent_exports()
needs_exports = pytest.mark.usefixtures("autogpt_exports")  # skipped without them; an error under CI=true


@needs_exports
def test_the_calculator_agent_imports_with_3_nodes_and_2_links(client: TestClient, auth: AuthHeaders) -> None:
    export = json.loads(next(p for p in EXPORTS if p.name == "calculator-agent.json").read_text())
    created = client.post("/api/graphs", json=export, headers=auth())
    assert created.status_code == 200, created.text
    graph = client.get(f"/api/graphs/{created.json()['id']}", headers=auth()).json()
    assert graph["name"] == "Calculator agent"
    assert len(graph["nodes"]) == 3 and len(graph["links"]) == 2
    assert graph["id"] != export["id"]
    assert {n["block_id"] for n in graph["nodes"]} == {n["block_id"] for n in export["nodes"]}
    # link endpoints were remapped onto the fresh node ids
    node_ids = {n["id"] for n in graph["nodes"]}
    assert all({link["source_id"], link["sink_id"]} <= node_ids for link in graph["links"])
    # the link out of the input block is static, as in the export
    static = {(link["source_name"], link["sink_name"]): link["is_static"] for link in graph["links"]}
    assert static == {("result", "a"): True, ("result", "value"): False}
    assert graph["input_schema"] == export["input_schema"]
    assert graph["output_schema"] == export["output_schema"]


@needs_exports
# without exports one case remains, so the fixture above reports their absence (never an empty-set skip)
@pytest.mark.parametrize("path", EXPORTS or [None], ids=[p.name for p in EXPORTS] or ["no-exports"])
def test_every_agent_imports_or_gets_structured_errors(client: TestClient, auth: AuthHeaders, path: Path) -> None:
    export = json.loads(path.read_text())
    response = client.post("/api/graphs", json=export, headers=auth())
    body = response.json()
    if response.status_code == 200:
        assert len(body["nodes"]) == len(export["nodes"])
        return
    assert response.status_code == 400, response.text
    assert body["code"] == "graph_invalid"
    assert body["detail"]["node_errors"] or body["detail"]["graph_errors"]
    for node_id, pins in body["detail"]["node_errors"].items():
        assert isinstance(node_id, str) and pins
        assert all(isinstance(message, str) and message for message in pins.values())
    assert client.get("/api/graphs", headers=auth()).json() == []


@needs_exports
def test_agents_fail_only_on_blocks_we_do_not_have_yet(client: TestClient, auth: AuthHeaders) -> None:
    """Our pure blocks accept every pin the exports use: the only errors are missing blocks."""
    for path in EXPORTS:
        body = client.post("/api/graphs", json=json.loads(path.read_text()), headers=auth()).json()
        other = {
            (node_id, pin): msg
            for node_id, pins in body.get("detail", {}).get("node_errors", {}).items()
            for pin, msg in pins.items()
            if pin != "block_id"
        }
        assert other == {}, path.name
        assert body.get("detail", {}).get("graph_errors", []) == [], path.name
