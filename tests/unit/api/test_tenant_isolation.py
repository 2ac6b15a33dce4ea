"""Tenant isolation through HTTP on the embedded platform (SQLite): the route-table matrix of tests.isolation_matrix.

The owner's data is planted once per module; every route is then called by
every other caller on it. See ``tests.isolation_matrix`` for what is checked
and how to add a route or an identity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.composition import Container, build_container
from api.routers import executions as stop_route
from domain.not_found import ExecutionNotFoundError
from tests import isolation_matrix
from tests.fakes.http_server import FakeHTTPServer
from tests.isolation_matrix import Plan, run_matrix


@pytest.fixture(scope="module")
def slow() -> Iterator[str]:
    """A URL that answers only after the module is done: the owner's running run waits on it."""
    with FakeHTTPServer() as server:
        server.delay("/slow", 60)
        yield server.url("/slow")


@pytest.fixture(scope="module")
def platform(slow: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, TestClient, Container]]:
    """The whole embedded platform (API, executor, projections) on a fresh SQLite data folder."""
    container = build_container(
        Settings(
            AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True,
            AGENTGRAPH_DATA_DIR=tmp_path_factory.mktemp("isolation") / "data",
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


def test_a_route_the_matrix_does_not_know_fails_it(
    platform: tuple[FastAPI, TestClient, Container], slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, container = platform
    plans = dict(isolation_matrix.ROUTES)
    del plans[("GET", "/api/executions")]
    monkeypatch.setattr(isolation_matrix, "ROUTES", plans)
    failures = run_matrix(app, client, container, slow)
    assert any("GET /api/executions: add a Plan to ROUTES" in line for line in failures), failures


def test_an_unclassified_parameter_or_body_fails_it(
    platform: tuple[FastAPI, TestClient, Container], slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, container = platform
    params = dict(isolation_matrix.PARAMS)
    del params["execution_id"]
    plans = {**isolation_matrix.ROUTES, ("PUT", "/api/graphs/{graph_id}"): Plan(404)}
    queries = {name: why for name, why in isolation_matrix.QUERY_PARAMS.items() if name != "page_size"}
    monkeypatch.setattr(isolation_matrix, "QUERY_PARAMS", queries)
    monkeypatch.setattr(isolation_matrix, "PARAMS", params)
    monkeypatch.setattr(isolation_matrix, "ROUTES", plans)
    failures = "\n".join(run_matrix(app, client, container, slow))
    assert "path parameter 'execution_id' unknown" in failures
    assert "PUT /api/graphs/{graph_id}: it takes a body" in failures
    assert "GET /api/executions: query parameter 'page_size' unknown" in failures


def test_an_unknown_websocket_route_fails_it(platform: tuple[FastAPI, TestClient, Container], slow: str) -> None:
    app, client, container = platform
    extra = FastAPI()
    extra.router.routes.extend(app.router.routes)

    @extra.websocket("/ws-unknown")
    async def socket() -> None:  # pragma: no cover - never connected
        return None

    failures = run_matrix(extra, client, container, slow)
    assert any("WebSocket /ws-unknown: add a check to WEBSOCKET_ROUTES" in line for line in failures), failures


def test_the_matrix_catches_a_listing_that_forgets_the_user(
    platform: tuple[FastAPI, TestClient, Container], slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run listing without its ``WHERE user_id`` (every user's runs) fails the matrix: markers and counts."""
    app, client, container = platform
    queries = type(container.run_queries)
    real = queries.list_runs
    users: set[str] = set()

    def every_users_runs(self: Any, user_id: str, graph_id: str | None, page: int, page_size: int) -> Any:
        users.add(user_id)
        runs = [run for user in sorted(users) for run in real(self, user, graph_id, page, page_size)[0]]
        return runs, len(runs)

    monkeypatch.setattr(queries, "list_runs", every_users_runs)
    failures = "\n".join(run_matrix(app, client, container, slow))
    assert "GET /api/executions shows the owner's data" in failures


def test_the_matrix_catches_a_run_read_as_its_owner(
    platform: tuple[FastAPI, TestClient, Container], slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run read that finds the run whoever owns it fails the matrix: status, markers and the owner's view."""
    app, client, container = platform
    queries = type(container.run_queries)
    real = queries.get_run
    users: set[str] = set()

    def anyones_run(self: Any, user_id: str, execution_id: str, graph_id: str | None = None) -> Any:
        users.add(user_id)
        for user in sorted(users):
            try:
                return real(self, user, execution_id, graph_id)
            except ExecutionNotFoundError:
                continue
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")

    monkeypatch.setattr(queries, "get_run", anyones_run)
    failures = "\n".join(run_matrix(app, client, container, slow))
    assert "answered 200, expected 404" in failures
    assert "shows the owner's data" in failures


def test_the_matrix_catches_a_stop_that_forgets_the_owner(
    platform: tuple[FastAPI, TestClient, Container], slow: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop that finds anyone's run stops the owner's running run: events written, the owner's view changed."""
    app, client, container = platform
    # the sabotaged stop then waits for a run the caller cannot read: not for long
    monkeypatch.setattr(stop_route, "STOP_WAIT_SECONDS", 0.1)
    monkeypatch.setattr(container.settings, "consistency_wait_seconds", 0.1)
    executions = type(container.executions)
    real = executions.peek

    def anyones_peek(self: Any, user_id: str, execution_id: Any) -> Any:
        first = self.recorder.select_events(execution_id, limit=1)
        owner = getattr(self.mapper.to_domain_event(first[0]), "user_id", user_id) if first else user_id
        return real(self, owner, execution_id)

    monkeypatch.setattr(executions, "peek", anyones_peek)
    failures = "\n".join(run_matrix(app, client, container, slow))
    assert "calls on the owner's ids wrote events" in failures
    assert "the owner's data changed" in failures


def _autogpt_socket(leaky: bool) -> Callable[..., Awaitable[None]]:
    """A small AutoGPT-style ``/ws`` (acks, heartbeat); a leaky one pushes an event for any run subscribed to."""

    async def socket(websocket: WebSocket, token: str | None = None) -> None:
        if token is None:
            await websocket.close(code=4001, reason="Missing authentication token")
            return
        await websocket.accept()
        while True:
            try:
                message = await websocket.receive_json()
            except WebSocketDisconnect:
                return
            envelope = {"data": None, "success": True, "channel": None, "error": None}
            if message["method"] == "heartbeat":
                await websocket.send_json({"method": "heartbeat", "data": "pong", "success": True})
                continue
            await websocket.send_json({**envelope, "method": message["method"]})
            if leaky and message["method"] == "subscribe_graph_execution":
                event = {"event_type": "graph_execution_update", "id": message["data"]["graph_exec_id"]}
                await websocket.send_json({**envelope, "method": "graph_execution_event", "data": event})

    return socket


@pytest.mark.parametrize("leaky", [False, True])
def test_the_websocket_check_catches_frames_of_anothers_runs(
    platform: tuple[FastAPI, TestClient, Container], slow: str, leaky: bool
) -> None:
    app, client, container = platform
    app.add_api_websocket_route("/ws", _autogpt_socket(leaky))
    fake = app.router.routes.pop()
    app.router.routes.insert(0, fake)  # ahead of the app's own /ws: the fake stands in for it
    try:
        failures = run_matrix(app, client, container, slow)
    finally:
        app.router.routes.remove(fake)
    if leaky:
        assert any("WebSocket /ws" in line and "graph_execution_event" in line for line in failures), failures
    else:
        assert not failures, "\n".join(failures)
