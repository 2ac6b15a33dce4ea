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
from tests.fixtures.services import fresh_database
from tests.isolation_matrix import run_matrix


@pytest.fixture(scope="module")
def platform(
    postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FastAPI, TestClient, Container]]:
    """The whole embedded platform (API, executor, projections) on a fresh PostgreSQL database."""
    with fresh_database(postgres_server) as dsn:
        container = build_container(
            Settings(
                AGENTGRAPH_DATABASE_URL=dsn,
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


def test_no_route_shows_or_changes_another_users_data(platform: tuple[FastAPI, TestClient, Container]) -> None:
    failures = run_matrix(*platform)
    assert not failures, "\n".join(failures)
