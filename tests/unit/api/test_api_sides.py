"""Commands and queries apart: each side's app alone, its route table, and the roles that build them.

The commands app (``--role api-commands``) holds every POST/PUT/PATCH/DELETE
route, the queries app (``--role api-queries``) every GET route and ``/ws``;
both serve the common ones (probes, metrics, docs). Together they are the
whole API: no route is lost in the split.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from adapters.settings import Settings
from api.app import COMMON_ROUTERS, create_app
from api.auth import mint_token
from api.bootstrap import COMMANDS, QUERIES, ROLES, api_sides, build_for, choose_roles, parts_for
from api.composition import Container, Part, PartNotBuiltError
from api.consistency import TOKEN_HEADER as TOKEN
from tests import isolation_matrix
from tests.fakes.http_server import FakeHTTPServer
from tests.isolation_matrix import app_routes
from tests.unit.api.graph_samples import calculator

MUTATIONS = {"POST", "PUT", "PATCH", "DELETE"}
Route = tuple[str, str]
"""(method, path); the WebSocket's method is ``WS``."""


def route_table(app: FastAPI) -> set[Route]:
    """Every (method, path) the app answers, included routers flattened (as the isolation matrix walks them)."""
    table: set[Route] = set()
    for path, route in app_routes(app):
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            table.add(("WS", path))
        else:
            table |= {(method, path) for method in getattr(route, "methods", None) or ()}
    return table


def common_table(app: FastAPI) -> set[Route]:
    """The routes every side serves: the common routers' and FastAPI's own documents (not an ``APIRoute``)."""
    common_paths = {str(context.path) for router in COMMON_ROUTERS for context in iter_route_contexts(router.routes)}
    return {
        (method, path)
        for path, route in app_routes(app)
        if not isinstance(route, APIRoute | APIWebSocketRoute) or path in common_paths
        for method in getattr(route, "methods", None) or ()
    }


def settings_in(data_dir: Path) -> Settings:
    return Settings(AGENTGRAPH_DATA_DIR=data_dir)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def commands_container(data_dir: Path) -> Iterator[Container]:
    container = build_for(["api-commands"], settings_in(data_dir))
    yield container
    container.close()


@pytest.fixture
def queries_container(data_dir: Path) -> Iterator[Container]:
    container = build_for(["api-queries"], settings_in(data_dir))
    yield container
    container.close()


def test_the_halves_split_the_route_table_by_method_and_lose_no_route(
    commands_container: Container, queries_container: Container
) -> None:
    whole = create_app(commands_container)  # both sides (the api role's parts are what api-commands builds)
    commands = create_app(commands_container, sides={COMMANDS})
    queries = create_app(queries_container, sides={QUERIES})
    common = common_table(whole)
    assert ("GET", "/health") in common and ("GET", "/ready") in common and ("GET", "/metrics") in common
    assert common_table(commands) == common == common_table(queries)

    only_commands = route_table(commands) - common
    only_queries = route_table(queries) - common
    assert only_commands and {method for method, _ in only_commands} <= MUTATIONS, only_commands
    assert only_queries and {method for method, _ in only_queries} <= {"GET", "HEAD", "WS"}, only_queries
    assert ("WS", "/ws") in only_queries and ("GET", "/api/executions/{execution_id}/events") in only_queries
    assert route_table(commands) | route_table(queries) == route_table(whole)
    assert route_table(commands) & route_table(queries) == common
    # the tenant-isolation matrix walks the whole app, so it plans every route of either half
    planned = set(isolation_matrix.ROUTES) | {("WS", path) for path in isolation_matrix.WEBSOCKET_ROUTES}
    api_routes = {(method, path) for method, path in route_table(whole) if method != "HEAD"}
    assert api_routes - planned <= {("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc")}


def test_the_roles_build_what_their_side_needs_and_both_halves_are_the_api() -> None:
    settings = Settings()
    queries = parts_for(["api-queries"], settings)
    assert not queries & {Part.STORES, Part.LOGS, Part.BLOCK_WORKERS}
    assert {Part.READ_STORE, Part.JWT, Part.ACCOUNTS} <= queries
    assert {Part.STORES, Part.READ_STORE, Part.JWT, Part.BLOCK_WORKERS} <= parts_for(["api-commands"], settings)
    assert parts_for(["api"], settings) == parts_for(["api-commands", "api-queries"], settings)
    assert api_sides(["api"]) == {COMMANDS, QUERIES} and api_sides(["projector"]) == frozenset()
    assert choose_roles("api-queries,api-commands", settings) == ["api"]
    assert choose_roles("api-commands,projector", settings) == ["api-commands", "projector"]
    assert not {"api-commands", "api-queries"} & set(choose_roles(None, settings))
    assert {name for name, role in ROLES.items() if role.serves} == {"api", "api-commands", "api-queries"}


def test_the_queries_app_alone_reads_and_refuses_commands(queries_container: Container) -> None:
    with pytest.raises(PartNotBuiltError):
        _ = queries_container.graphs  # no graphs event store in this process
    with pytest.raises(PartNotBuiltError):
        _ = queries_container.block_runner
    headers = {"Authorization": f"Bearer {mint_token(queries_container.jwt, 'alice')}"}
    with TestClient(create_app(queries_container, sides={QUERIES})) as client:
        assert client.get("/api/graphs", headers=headers).json() == []
        assert client.post("/api/graphs", json={"graph": calculator()}, headers=headers).status_code == 405
        assert client.delete("/api/graphs/g1", headers=headers).status_code == 405
        block = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
        assert client.post(f"/api/blocks/{block}/execute", json={}, headers=headers).status_code == 404  # no such path
        assert client.get("/api/blocks", headers=headers).status_code == 200
        assert client.get("/ready").json()["checks"] == {"event_stores": "ok", "read_database": "ok"}
        assert client.get("/metrics").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
        assert "/api/graphs" in paths and "post" not in paths["/api/graphs"]
        with client.websocket_connect(f"/ws?token={headers['Authorization'].removeprefix('Bearer ')}") as socket:
            socket.send_text('{"method": "heartbeat", "data": "ping"}')
            assert socket.receive_json()["data"] == "pong"
        pipeline = client.get("/api/admin/metrics/pipeline", headers=_admin(queries_container))
        assert pipeline.status_code == 503 and pipeline.json()["code"] == "not_served_here"


def test_the_commands_app_alone_writes_and_the_queries_app_reads_it_after_the_projector(
    commands_container: Container, data_dir: Path
) -> None:
    headers = {"Authorization": f"Bearer {mint_token(commands_container.jwt, 'alice')}"}
    commands_app = create_app(commands_container, sides={COMMANDS})
    with TestClient(commands_app) as commands:
        created = commands.post("/api/graphs", json={"graph": calculator()}, headers=headers)
        assert created.status_code == 200, created.text
        assert commands.get("/api/graphs", headers=headers).status_code == 405
        assert commands.get(f"/api/graphs/{created.json()['id']}", headers=headers).status_code == 405
        assert "agentgraph_event_store_head" in commands.get("/metrics").text  # it sees every store
        assert set(commands.get("/openapi.json").json()["paths"]["/api/graphs"]) == {"post"}
        # no projector runs yet: the key's creation answers after its (short) wait for the read model
        commands_container.settings.consistency_wait_seconds = 0.1
        key = commands.post("/api/api-keys", json={"name": "ci", "permissions": ["IDENTITY"]}, headers=headers)
        assert key.status_code == 200, key.text
    token = created.headers["X-Consistency-Token"]
    raw_key = {"X-API-Key": key.json()["plain_text_key"]}

    # another process: the query side, with the projector that keeps its read models current
    reader = build_for(["api-queries", "projector"], settings_in(data_dir))
    try:
        app = create_app(reader, sides={QUERIES}, run_projector=True)
        with TestClient(app) as queries:
            graph = queries.get(
                f"/api/graphs/{created.json()['id']}", headers={**headers, "X-Consistency-Token": token}
            )
            assert graph.status_code == 200, graph.text
            assert "X-Consistency-Stale" not in graph.headers
            assert len(graph.json()["nodes"]) == 3
            keys = queries.get("/api/api-keys", headers={**headers, "X-Consistency-Token": key.headers[TOKEN]})
            assert [listed["name"] for listed in keys.json()] == ["ci"]
            assert queries.get("/external-api/v1/me", headers=raw_key).json()["id"] == "alice"

            with TestClient(commands_app) as commands:  # revoked on the command side ...
                revoked = commands.delete(f"/api/api-keys/{key.json()['api_key']['id']}", headers=headers)
                assert revoked.status_code == 200, revoked.text
            # ... the query side refuses it at once (the aggregate, not the read model, says so)
            assert queries.get("/external-api/v1/me", headers=raw_key).status_code == 401
    finally:
        reader.close()


class MethodRouter:
    """What the proxy in front of a split deployment does: GET, HEAD and WebSockets to queries, the rest to commands.

    Both apps' lifespans run in this app's event loop, as two processes would each run theirs.
    """

    def __init__(self, commands: FastAPI, queries: FastAPI) -> None:
        self.commands = commands
        self.queries = queries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with AsyncExitStack() as stack:
                await receive()
                for app in (self.commands, self.queries):
                    await stack.enter_async_context(app.router.lifespan_context(app))
                await send({"type": "lifespan.startup.complete"})
                await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        reads = scope["type"] == "websocket" or scope["method"] in ("GET", "HEAD")
        await (self.queries if reads else self.commands)(scope, receive, send)


@pytest.fixture
def slow() -> Iterator[str]:
    """A URL that answers only after the test is done: the owner's running run waits on it."""
    with FakeHTTPServer() as server:
        server.delay("/slow", 60)
        yield server.url("/slow")


def test_the_isolation_matrix_passes_on_the_two_halves_behind_a_method_router(slow: str, tmp_path: Path) -> None:
    """Every route, called as the split deployment serves it: each half with only its role's parts."""
    settings = Settings(AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS=True, AGENTGRAPH_DATA_DIR=tmp_path / "data")
    writer = build_for(["api-commands", "executor"], settings)
    reader = build_for(["api-queries", "projector"], settings)
    try:
        commands = create_app(writer, sides={COMMANDS}, run_executor=True)
        queries = create_app(reader, sides={QUERIES}, run_projector=True)
        proxy = MethodRouter(commands, queries)
        whole = create_app(writer)  # not started: its route table is what the matrix must cover
        assert route_table(whole) == route_table(commands) | route_table(queries)
        with TestClient(proxy) as client:
            failures = isolation_matrix.run_matrix(whole, client, writer, slow)
        assert not failures, "\n".join(failures)
    finally:
        reader.close()
        writer.close()


def _admin(container: Container) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, 'root', role='admin')}"}
