"""Concurrent writers and a busy database: every client gets an answer it can act on, never a 500.

Run against both stores a user can choose: embedded SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import application.graphs as graphs_application
from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from tests.unit.api.graph_samples import calculator

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    database_url = request.getfixturevalue("postgres_dsn") if request.param == "postgresql" else None
    built = build_container(
        Settings(
            AGENTGRAPH_DATA_DIR=tmp_path / "data",
            AGENTGRAPH_DATABASE_URL=database_url,
            JWT_VERIFY_KEY="contention-test-key-" + "x" * 32,
        )
    )
    yield built
    built.close()


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container, run_projector=True), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {mint_token(container.jwt, 'alice')}"
        yield test_client


def test_twenty_simultaneous_saves_of_one_graph_each_get_the_next_version(client: TestClient) -> None:
    graph_id = client.post("/api/graphs", json={"graph": calculator()}).json()["id"]

    def save(b: int) -> Any:
        return client.put(f"/api/graphs/{graph_id}", json={"graph": calculator(b=b)})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(save, range(20)))

    assert [a.status_code for a in answers if a.status_code != 200] == []
    assert sorted(a.json()["version"] for a in answers) == list(range(2, 22))
    kept = client.get(
        f"/api/graphs/{graph_id}/versions",
        headers={"X-Consistency-Token": max(answers, key=lambda a: a.json()["version"]).headers["X-Consistency-Token"]},
    )
    assert len(kept.json()) == 21


def test_saves_still_losing_the_race_after_every_retry_answer_409_version_conflict(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(graphs_application, "CONFLICT_ATTEMPTS", 1)  # no retry: every lost race is reported
    graph_id = client.post("/api/graphs", json={"graph": calculator()}).json()["id"]

    def save(b: int) -> Any:
        return client.put(f"/api/graphs/{graph_id}", json={"graph": calculator(b=b)})

    answers: list[Any] = []
    with ThreadPoolExecutor(20) as pool:
        for _ in range(10):  # rounds of 20 simultaneous saves, until some lost a race
            answers += pool.map(save, range(20))
            if any(a.status_code == 409 for a in answers):
                break

    assert {a.status_code for a in answers} == {200, 409}
    saved = sorted(a.json()["version"] for a in answers if a.status_code == 200)
    assert saved == list(range(2, 2 + len(saved)))  # no version lost or taken twice
    assert all(a.json()["code"] == "version_conflict" for a in answers if a.status_code == 409)


def _hold_every_connection(container: Container, stack: ExitStack) -> None:
    """Check out every connection the graphs store's pool will hand out, as a burst of requests would."""
    datastore: Any = container.graphs.recorder.datastore  # type: ignore[attr-defined]
    pool = datastore.pool
    if hasattr(pool, "getconn"):  # psycopg-pool (PostgreSQL)
        for _ in range(pool.max_size):
            conn = pool.getconn()
            stack.callback(pool.putconn, conn)
    else:  # eventsourcing's own pool (SQLite)
        for _ in range(pool.pool_size + pool.max_overflow):
            conn = pool.get_connection()
            stack.callback(pool.put_connection, conn)


def test_a_store_out_of_connections_answers_503_with_retry_after(container: Container, client: TestClient) -> None:
    with ExitStack() as stack:
        _hold_every_connection(container, stack)
        answer = client.post("/api/graphs", json={"graph": calculator()})

    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    assert answer.json()["code"] == "store_busy"
    # and once the burst is over, the same request goes through
    again = client.post("/api/graphs", json={"graph": calculator()})
    assert again.status_code == 200, again.text
