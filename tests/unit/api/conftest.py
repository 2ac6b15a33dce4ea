"""An embedded API (SQLite in a temp folder) and tokens to call it with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from api.consistency import TOKEN_HEADER, Positions, decode_token, encode_token

AuthHeaders = Callable[..., dict[str, str]]


def merge_tokens(known: Positions, token: str) -> Positions:
    """The newer of each context's positions (what a session-consistent client keeps)."""
    merged = dict(known)
    for context, (position, partition) in decode_token(token).items():
        if context not in merged or merged[context][0] < position:
            merged[context] = (position, partition)
    return merged


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    # graphs in these tests call the local fake HTTP server, so private addresses are allowed
    built = build_container(
        Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data", AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True)
    )
    yield built
    built.close()


class SessionClient(TestClient):
    """A client that reads its own writes, as a client SDK would.

    It keeps the newest consistency token any response gave it (per log) and
    sends it with every later request, so a query after a command sees it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.positions: Positions = {}

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if self.positions:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault(TOKEN_HEADER, encode_token(self.positions))
            kwargs["headers"] = headers
        response = super().request(method, url, *args, **kwargs)
        token = response.headers.get(TOKEN_HEADER)
        if token:
            self.positions = merge_tokens(self.positions, token)
        return response


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    """The API with its read models kept current (no executor)."""
    with SessionClient(create_app(container, run_projector=True)) as test_client:
        yield test_client


@pytest.fixture
def running_client(container: Container) -> Iterator[TestClient]:
    """The whole embedded platform: API, executor and projections in one loop."""
    with SessionClient(create_app(container, run_executor=True, run_projector=True)) as test_client:
        yield test_client


@pytest.fixture
def auth(container: Container) -> AuthHeaders:
    """``auth("alice")`` -> headers with a valid bearer token for alice."""

    def headers(user: str = "alice", role: str = "user") -> dict[str, str]:
        token = mint_token(container.jwt, user, role=role, email=f"{user}@example.com")
        return {"Authorization": f"Bearer {token}"}

    return headers
