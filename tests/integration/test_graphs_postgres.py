"""Graphs on PostgreSQL: events live in the graphs_events table and replay in full."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from domain.agent_format import GraphPayload
from domain.graph import Graph
from tests.unit.api.conftest import SessionClient
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_settings(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        JWT_VERIFY_KEY="integration-test-key-" + "x" * 32,
        AGENTGRAPH_DATA_DIR=tmp_path_factory.mktemp("unused-data"),
    )


@pytest.fixture
def pg_container(pg_settings: Settings) -> Iterator[Container]:
    built = build_container(pg_settings)
    yield built
    built.close()


def test_a_graph_with_50_versions_reloads_from_a_fresh_application(
    pg_settings: Settings, pg_container: Container, postgres_dsn: str
) -> None:
    graphs = pg_container.graphs
    created = graphs.create_graph("alice", GraphPayload.model_validate(calculator("v1", b=1)))
    for number in range(2, 51):
        saved = graphs.update_graph(
            "alice", created.aggregate_id, GraphPayload.model_validate(calculator(f"v{number}", b=number))
        )
        assert saved.version == number
    graphs.set_active_version("alice", created.aggregate_id, 17)

    fresh = build_container(pg_settings)  # a new application instance: nothing cached
    try:
        reloaded = fresh.graphs.repository.get(created.aggregate_id)
        assert isinstance(reloaded, Graph)
        assert sorted(reloaded.versions) == list(range(1, 51))
        for number in range(1, 51):
            content = fresh.graphs.graph_for_run("alice", str(created.aggregate_id), number)
            assert content.name == f"v{number}"
            calc = next(n for n in content.nodes if "b" in n.input_default)
            assert calc.input_default["b"] == number
        assert reloaded.active_version == 17
    finally:
        fresh.close()

    with psycopg.connect(postgres_dsn) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM graphs_events WHERE originator_id = %s", (str(created.aggregate_id),)
        ).fetchone()
    assert rows is not None and rows[0] == 51  # created + 49 new versions + 1 activation


def test_the_api_on_postgresql_serves_graphs_across_instances(pg_settings: Settings, pg_container: Container) -> None:
    token = mint_token(pg_container.jwt, "alice")
    headers = {"Authorization": f"Bearer {token}"}
    with SessionClient(create_app(pg_container, run_projector=True)) as client:
        created = client.post("/api/graphs", json={"graph": calculator()}, headers=headers)
        assert created.status_code == 200
        assert client.get("/health").json()["mode"] == "distributed"
    token = created.headers["X-Consistency-Token"]
    other = build_container(pg_settings)
    try:
        # another process with its own projector: the token makes its query wait for the read model
        with TestClient(create_app(other, run_projector=True)) as client:
            listed = client.get("/api/graphs", headers={**headers, "X-Consistency-Token": token}).json()
            assert [g["id"] for g in listed] == [created.json()["id"]]
    finally:
        other.close()
