"""Tenant isolation through HTTP with PostgreSQL event stores and read models: the matrix of tests.isolation_matrix.

The same route-table matrix as ``tests/unit/api/test_tenant_isolation.py``
(SQLite), against the platform on a fresh PostgreSQL database: the read
queries' ``user_id`` filters are SQL, so each dialect is proven on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.composition import Container, build_container
from tests.fakes.http_server import FakeHTTPServer
from tests.fixtures.services import fresh_database
from tests.isolation_matrix import run_matrix


@pytest.fixture(scope="module")
def slow() -> Iterator[str]:
    """A URL that answers only after the module is done: the owner's running run waits on it."""
    with FakeHTTPServer() as server:
        server.delay("/slow", 60)
        yield server.url("/slow")


@pytest.fixture(scope="module")
def platform(
    slow: str, postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, TestClient, Container]]:
    """The whole embedded platform (API, executor, projections) on a fresh PostgreSQL database."""
    with fresh_database(postgres_server) as dsn:
        container = build_container(
            Settings(
                AGENTGRAPH_DATABASE_URL=dsn,
                AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True,
                AGENTGRAPH_DATA_DIR=tmp_path_factory.mktemp("isolation-pg") / "data",
                JWT_VERIFY_KEY="isolation-test-key-" + "k" * 32,
            )
        )
        app = create_app(container, run_executor=True, run_projector=True)
        try:
            with TestClient(app) as client:
                yield app, client, container
        finally:
            container.close()


def test_no_route_shows_or_changes_another_users_data(
    platform: tuple[FastAPI, TestClient, Container], slow: str
) -> None:
    failures = run_matrix(*platform, slow)
    assert not failures, "\n".join(failures)
