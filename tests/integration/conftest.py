"""Fixtures of the integration tests that run ``serve`` processes against PostgreSQL (a module may define its own).

``env`` is the processes' environment (PostgreSQL, a JWT key, a data folder,
the SSRF guard lifted for the tests' local HTTP servers); ``container`` the
test's own view of the same stores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.settings import Settings
from api.composition import Container, build_container
from tests.serving import Processes


@pytest.fixture
def env(postgres_dsn: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "JWT_VERIFY_KEY": "executor-test-key-" + "k" * 32,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS": "true",
    }


@pytest.fixture
def container(env: dict[str, str]) -> Iterator[Container]:
    built = build_container(
        Settings(
            AGENTGRAPH_DATABASE_URL=env["AGENTGRAPH_DATABASE_URL"],
            JWT_VERIFY_KEY=env["JWT_VERIFY_KEY"],
            AGENTGRAPH_DATA_DIR=Path(env["AGENTGRAPH_DATA_DIR"]),
            AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True,
        )
    )
    yield built
    built.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """``serve`` processes of the test, each with its log; all stopped (SIGTERM) at the end."""
    running = Processes(tmp_path)
    try:
        yield running
    finally:
        running.stop_all()
