"""Read-your-writes: a command's token makes the next query wait for the read model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from tests.unit.api.graph_samples import calculator


@pytest.fixture
def quick_container(tmp_path: Path) -> Iterator[Container]:
    built = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data", AGENTGRAPH_CONSISTENCY_WAIT_SECONDS=0.3))
    yield built
    built.close()


def _headers(container: Container) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, 'alice')}"}


def test_create_then_read_with_the_token_needs_no_polling(quick_container: Container) -> None:
    headers = _headers(quick_container)
    with TestClient(create_app(quick_container, run_projector=True)) as client:
        for i in range(20):  # every time, not just when the projector happens to be quick
            created = client.post("/api/graphs", json={"graph": calculator(f"g{i}")}, headers=headers)
            token = created.json()["consistency_token"]
            assert token == created.headers["X-Consistency-Token"] and token.startswith("graphs:")
            read = client.get(f"/api/graphs/{created.json()['id']}?consistency_token={token}", headers=headers)
            assert read.status_code == 200 and read.json()["name"] == f"g{i}"
            assert "X-Consistency-Stale" not in read.headers
            listed = client.get("/api/graphs", headers={**headers, "X-Consistency-Token": token})
            assert len(listed.json()) == i + 1


def test_a_token_the_read_model_has_not_reached_answers_stale(quick_container: Container) -> None:
    headers = _headers(quick_container)
    with TestClient(create_app(quick_container)) as client:  # no projector runs: the read model never moves
        created = client.post("/api/graphs", json={"graph": calculator()}, headers=headers)
        token = created.json()["consistency_token"]
        listed = client.get("/api/graphs", headers={**headers, "X-Consistency-Token": token})
        assert listed.status_code == 200
        assert listed.headers["X-Consistency-Stale"] == "true"
        assert listed.json() == []  # what the read model has


def test_a_malformed_token_is_400(quick_container: Container) -> None:
    with TestClient(create_app(quick_container, run_projector=True)) as client:
        response = client.get("/api/graphs?consistency_token=nonsense", headers=_headers(quick_container))
        assert response.status_code == 400
        assert response.json()["code"] == "bad_request"
        assert "Malformed consistency token" in response.json()["detail"]


def test_every_command_answers_with_a_token(quick_container: Container) -> None:
    headers = _headers(quick_container)
    with TestClient(create_app(quick_container, run_projector=True)) as client:
        created = client.post("/api/graphs", json={"graph": calculator()}, headers=headers)
        graph_id = created.json()["id"]
        answers = [
            created,
            client.put(f"/api/graphs/{graph_id}", json={"graph": calculator("v2")}, headers=headers),
            client.put(f"/api/graphs/{graph_id}/versions/active", json={"active_graph_version": 1}, headers=headers),
            client.post(f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 1}}, headers=headers),
            client.delete(f"/api/graphs/{graph_id}", headers=headers),
        ]
        for answer in answers:
            assert answer.status_code == 200, answer.text
            token = answer.headers.get("X-Consistency-Token")
            assert token and answer.json()["consistency_token"] == token, answer.request.url
        positions = [
            int(a.headers["X-Consistency-Token"].split(":")[1])
            for a in answers
            if "graphs:" in a.headers["X-Consistency-Token"]
        ]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)


def test_a_token_past_the_head_of_the_log_is_refused_at_once(quick_container: Container) -> None:
    headers = _headers(quick_container)
    with TestClient(create_app(quick_container, run_projector=True)) as client:
        created = client.post("/api/graphs", json={"graph": calculator()}, headers=headers)
        position = int(created.json()["consistency_token"].split(":")[1])
        for token in (f"graphs:{position + 1}", "graphs:99999999999999999999", f"executions:{position + 1000}"):
            response = client.get(
                "/api/graphs/" + created.json()["id"], headers={**headers, "X-Consistency-Token": token}
            )
            runs = client.get("/api/executions", headers={**headers, "X-Consistency-Token": token})
            if token.startswith("graphs"):
                assert response.status_code == 400, response.text
                assert response.json()["code"] == "consistency_token_ahead"
                assert "graphs" in response.json()["detail"]
                assert runs.status_code == 200  # a read of runs does not wait for graphs
            else:
                assert runs.status_code == 400 and runs.json()["code"] == "consistency_token_ahead"
