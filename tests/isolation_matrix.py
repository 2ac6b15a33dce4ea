"""Tenant isolation, proven by construction: every route of the app, called by other callers on an owner's data.

The matrix is generated from ``app.routes`` (HTTP and WebSocket), so a new
route cannot slip past it: a route without a plan in ``ROUTES`` (or
``WEBSOCKET_ROUTES``), a path parameter nobody classified in ``PARAMS`` or a
route with a body and no body in its plan fails the test, and the failure
says what to add.

The story, once per app (``run_matrix``):

1. The owner (a JWT user) plants data through the API (``PROVISIONERS``):
   a graph with two versions whose name, description, pin names and values
   carry unique marker strings, a run that completed (node results, outputs
   holding a marker) and a run that failed (error text). Every string the
   owner's own views of that data contain (ids, markers, its user id) and
   that no public answer contains (block ids, the OpenAPI document) is a
   secret of the owner.
2. Each other caller (``OTHER_CALLERS``: today a second JWT user; the
   external API's key of that user plugs in the same way) calls every route
   with the owner's ids in its path (every combination, also mixed with
   its own ids), with the owner's ids in bodies where the plan puts them,
   and the routes without ids (lists, creates, public pages):
   - the status is the plan's (404 for the owner's resources, AutoGPT's
     answer for someone else's resource; 403 on admin routes; 401 where the
     caller's credential does not apply);
   - an error answer is the very answer for an id that names nothing
     (the same request with each of the owner's ids swapped for a fresh
     one, answers compared with the swap undone): nothing tells the caller
     the resource exists;
   - no response body or header holds any of the owner's secrets, except
     the values the caller itself sent in that request;
   - listings and their counts hold only the caller's own rows.
3. Calls carrying the owner's ids wrote nothing: the heads of every event
   log are unchanged after them, and the owner's own views (read once the
   read models applied those heads) are exactly what they were.

Adding an identity: append a factory to ``OTHER_CALLERS`` (it gets the
``Setup``: the client, the caller's JWT headers, the world) returning an
``OtherCaller`` with its headers and the routes its credential applies to.
Adding owner data (API keys ...): append a provisioner to ``PROVISIONERS``
that stores ids in ``world.ids[kind]`` and markers in ``world.markers``.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from api.auth import mint_token
from api.composition import Container
from api.consistency import TOKEN_HEADER, encode_token
from domain.api_key import APIKeyPermission

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
AGENT = "e189baac-8c20-45a1-94a7-55177ea42565"
FINAL = ("COMPLETED", "FAILED", "TERMINATED")
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


# --------------------------------------------------------------------------------------------
# The world the owner plants, and who else calls
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    """The owner's data as the matrix knows it: ids by kind, secrets, and the other caller's own ids."""

    owner_id: str
    owner_headers: dict[str, str]
    ids: dict[str, list[str]] = field(default_factory=dict)
    """The owner's resources by kind (``graph_id``, ``execution_id`` ...)."""
    own: dict[str, list[str]] = field(default_factory=dict)
    """The other caller's own resources by kind, mixed with the owner's in paths (its graph, the owner's run)."""
    markers: set[str] = field(default_factory=set)
    """Strings only the owner's data holds; the matrix adds every id the owner's views show."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything a provisioner or caller factory wants to keep (API keys of the owner ...)."""
    cleanups: list[Callable[[], Any]] = field(default_factory=list)
    """What the owner undoes once the matrix is done (stop its running run ...)."""

    def marker(self, what: str) -> str:
        """A fresh unique string, remembered as a secret of the owner."""
        value = f"OWNER-SECRET-{what}-{uuid.uuid4().hex}"
        self.markers.add(value)
        return value


@dataclass(frozen=True)
class OtherCaller:
    """An identity that is not the owner: the headers it sends and the routes its credential applies to."""

    name: str
    headers: dict[str, str]
    authenticates: Callable[[str], bool]
    """Given a route's path template: does this credential authenticate there (else the route answers 401)."""


@dataclass
class Setup:
    """What a caller factory gets: the client, the second user's JWT identity and the world."""

    client: TestClient
    container: Container
    world: World
    other_user_id: str
    other_jwt: dict[str, str]


def second_user(setup: Setup) -> OtherCaller:
    """Another user with a JWT: it authenticates everywhere but on the external API (keys only)."""
    return OtherCaller("second user (JWT)", setup.other_jwt, lambda path: not path.startswith("/external-api/"))


OTHER_CALLERS: list[Callable[[Setup], OtherCaller]] = [second_user]
"""Every identity that must not see the owner's data (the second user's API key is added below, with its routes)."""


# --------------------------------------------------------------------------------------------
# What the owner plants
# --------------------------------------------------------------------------------------------


def _passthrough(world: World) -> dict[str, Any]:
    pin, out = world.marker("input-name"), world.marker("output-name")
    world.extra["input_name"] = pin
    return {
        "name": world.marker("graph-name"),
        "description": world.marker("graph-description"),
        "nodes": [
            {
                "id": "in",
                "block_id": INPUT,
                "input_default": {"name": pin, "description": world.marker("pin-description")},
                "metadata": {"note": world.marker("node-metadata")},
            },
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": out}},
        ],
        "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}],
    }


def _failing(world: World) -> dict[str, Any]:
    """Version 2: a sub-agent node naming a graph nobody has, so its runs fail with an error text."""
    return {
        "name": world.marker("graph-v2-name"),
        "description": world.marker("graph-v2-description"),
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": world.extra["input_name"]}},
            {
                "id": "agent",
                "block_id": AGENT,
                "input_default": {
                    "user_id": world.owner_id,
                    "graph_id": str(uuid.uuid4()),
                    "graph_version": 1,
                    "inputs": {},
                    "input_schema": {"type": "object", "properties": {"anything": {"type": "string"}}},
                    "output_schema": {},
                },
            },
        ],
        "links": [{"source_id": "in", "sink_id": "agent", "source_name": "result", "sink_name": "anything"}],
    }


def ok(response: Any) -> Any:
    """The JSON of a 2xx answer (fails with the body otherwise)."""
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def wait_for_run(client: TestClient, headers: dict[str, str], graph_id: str, run_id: str) -> dict[str, Any]:
    """Poll the run until it ended (10 s at most; a 404 while the read model has not seen the run yet)."""
    for _ in range(500):
        response = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if response.status_code != 404:
            run: dict[str, Any] = ok(response)
            if run["status"] in FINAL:
                return run
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not end")


def read_after(response: Any, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the consistency token of a command's answer: a query then sees what it wrote."""
    return {**headers, TOKEN_HEADER: response.headers[TOKEN_HEADER]}


def plant_graphs_and_runs(client: TestClient, world: World) -> None:
    """A graph with two versions (v1 active), a completed run of v1 and a failed run of v2."""
    headers = world.owner_headers
    graph = ok(client.post("/api/graphs", json={"graph": _passthrough(world)}, headers=headers))
    graph_id = graph["id"]
    ok(client.put(f"/api/graphs/{graph_id}", json=_failing(world), headers=headers))
    ok(client.put(f"/api/graphs/{graph_id}/versions/active", json={"active_graph_version": 1}, headers=headers))
    pin = world.extra["input_name"]
    done = ok(
        client.post(
            f"/api/graphs/{graph_id}/execute/1", json={"inputs": {pin: world.marker("input-value")}}, headers=headers
        )
    )
    failed = ok(
        client.post(
            f"/api/graphs/{graph_id}/execute/2", json={"inputs": {pin: world.marker("not-a-number")}}, headers=headers
        )
    )
    runs = [wait_for_run(client, headers, graph_id, run["id"]) for run in (done, failed)]
    assert runs[0]["status"] == "COMPLETED", runs[0]
    assert any(node["status"] == "FAILED" for node in runs[1]["node_executions"]), runs[1]
    world.ids["graph_id"] = [graph_id]
    world.ids["execution_id"] = [done["id"], failed["id"]]


WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


def plant_running_run(client: TestClient, world: World) -> None:
    """A second graph whose run waits on a slow server for the whole matrix: stop on it would really stop it.

    ``world.extra["slow_url"]`` is a URL that answers after the matrix ends;
    the owner stops the run once the matrix is done (``world.cleanups``).
    """
    headers = world.owner_headers
    body = {
        "name": world.marker("slow-graph-name"),
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
            {"id": "call", "block_id": WEB_REQUEST, "input_default": {"url": world.extra["slow_url"], "method": "GET"}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "Output"}},
        ],
        "links": [
            {"source_id": "in", "sink_id": "call", "source_name": "result", "sink_name": "headers_#_X-Input"},
            {"source_id": "call", "sink_id": "out", "source_name": "response", "sink_name": "value"},
        ],
    }
    graph_id = ok(client.post("/api/graphs", json={"graph": body}, headers=headers))["id"]
    run_id = ok(
        client.post(
            f"/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": world.marker("slow")}}, headers=headers
        )
    )["id"]
    for _ in range(500):  # until the call node runs (and waits)
        response = client.get(f"/api/graphs/{graph_id}/executions/{run_id}", headers=headers)
        if response.status_code == 200 and any(n["status"] == "RUNNING" for n in response.json()["node_executions"]):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the slow run did not start its call")
    world.ids["graph_id"].append(graph_id)
    world.ids["execution_id"].append(run_id)
    world.cleanups.append(lambda: ok(client.post(f"/api/graphs/{graph_id}/executions/{run_id}/stop", headers=headers)))


PROVISIONERS: list[Callable[[TestClient, World], None]] = [plant_graphs_and_runs, plant_running_run]
"""What the owner creates before the matrix runs; add one per new kind of resource (API keys ...)."""


OWN_PROVISIONERS: list[Callable[[TestClient, World, dict[str, str]], None]] = []
"""What the other caller plants of its own after ``plant_own_graph`` (its store profile ...)."""


def plant_own_graph(client: TestClient, world: World, headers: dict[str, str]) -> None:
    """The other caller's own graph and run: mixed with the owner's ids in paths, and counted in its lists."""
    graph = ok(client.post("/api/graphs", json={"graph": _own_graph()}, headers=headers))
    run = ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"Input": 1}}, headers=headers))
    wait_for_run(client, headers, graph["id"], run["id"])
    world.own.setdefault("graph_id", []).append(graph["id"])
    world.own.setdefault("execution_id", []).append(run["id"])


def _own_graph() -> dict[str, Any]:
    return {
        "name": "mine",
        "nodes": [
            {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
            {"id": "out", "block_id": OUTPUT, "input_default": {"name": "Output"}},
        ],
        "links": [{"source_id": "in", "sink_id": "out", "source_name": "result", "sink_name": "value"}],
    }


# --------------------------------------------------------------------------------------------
# How to call each route
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """A path parameter: the owner's ids of ``kind`` (mixed with the caller's own), or a fixed public value."""

    kind: str | None = None
    fixed: tuple[str, ...] = ()

    def values(self, world: World) -> list[tuple[str, bool]]:
        """``(value, is_the_owners)`` for every value to try."""
        if self.kind is None:
            return [(value, False) for value in self.fixed]
        owners = [(value, True) for value in world.ids.get(self.kind, [])]
        assert owners, f"no owner resource of kind {self.kind!r}: add a provisioner to PROVISIONERS"
        return owners + [(value, False) for value in world.own.get(self.kind, [])]


PARAMS: dict[str, Param] = {
    "graph_id": Param("graph_id"),
    "execution_id": Param("execution_id"),
    "version": Param(fixed=("1", "2")),
    "graph_version": Param(fixed=("1", "2")),
    "user_id": Param("user_id"),
    "block_id": Param(fixed=(CALCULATOR, AGENT)),
}
"""Path parameters by name; a plan's ``params`` overrides one for its route (``id`` means different things)."""


QUERY_PARAMS: dict[str, str] = {
    "page": "a page number",
    "page_size": "a page size",
    "version": "a version of the graph the path names",
    "for_export": "a flag",
    "consistency_token": "positions in the event logs (global, carry no user's data)",
}
"""Query parameters the matrix knows carry no resource id. A parameter that can name another user's resource
(``?graph_id=``) does not belong here: put a query with the owner's id in the route's ``Plan.queries``
(``lambda world: {"graph_id": world.ids["graph_id"][0]}``) and list it in ``Plan.id_queries``."""


Body = Callable[[World], Any]


@dataclass(frozen=True)
class Plan:
    """How the other caller calls one route and what it must get.

    ``expect`` is the status for the owner's resources (404 by AutoGPT's rule)
    or, for routes without the owner's ids, the caller's normal answer.
    ``public`` routes need no credential. ``body`` builds the JSON body (the
    owner's ids go in where a client could put someone else's id).
    ``queries`` are the query strings to try (a callable puts the owner's ids in one). ``check`` asserts more on a 2xx
    answer (a listing holds only the caller's rows ...).
    """

    expect: int
    body: Body | None = None
    queries: tuple[dict[str, str] | Callable[[World], dict[str, str]], ...] = ({},)
    public: bool = False
    params: dict[str, Param] = field(default_factory=dict)
    same_as_unknown: bool = True
    """False only where AutoGPT itself tells another user's resource from an unknown one (its API-key
    mutations answer 403 for someone else's key, 404 for an unknown one); the house rule is 404 for both."""
    id_queries: frozenset[str] = frozenset()
    """Query parameters of this route that name resources (its ``queries`` try them with the owner's ids)."""
    check: Callable[[TestClient, dict[str, str], Any, World], None] | None = None
    echoes: Callable[[World], set[str]] | None = None
    """The owner's values the caller itself typed into its own data earlier, which this route shows back to it
    (its own run's error naming the owner's graph id its sub-agent node asked for): not a leak here."""


def _run_body(world: World) -> dict[str, Any]:
    return {"inputs": {world.extra["input_name"]: 1, "Input": 1}}


def _graph_using_owners_graph(world: World) -> dict[str, Any]:
    """A graph whose sub-agent node names the owner's graph: stored, but the owner's graph stays invisible."""
    graph_id = world.ids["graph_id"][0]
    return {
        "graph": {
            "name": "borrower",
            "nodes": [
                {
                    "id": "agent",
                    "block_id": AGENT,
                    "input_default": {
                        "user_id": world.owner_id,
                        "graph_id": graph_id,
                        "graph_version": 1,
                        "inputs": {},
                        "input_schema": {},
                        "output_schema": {},
                    },
                }
            ],
            "links": [],
        }
    }


def _block_body(world: World) -> dict[str, Any]:
    # the calculator ignores what it does not know; the agent block names the owner's graph
    return {
        "a": 1,
        "b": 2,
        "operation": "Add",
        "user_id": world.owner_id,
        "graph_id": world.ids["graph_id"][0],
        "graph_version": 1,
        "inputs": {},
        "input_schema": {},
        "output_schema": {},
    }


def _only_own_runs(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    runs = response.json()
    runs = runs["executions"] if isinstance(runs, dict) else runs
    assert {run["id"] for run in runs} <= set(world.own.get("execution_id", [])) | world.extra["created_by_other"]
    if "X-Total-Count" in response.headers:
        assert int(response.headers["X-Total-Count"]) == len(runs), "the count includes rows the caller cannot see"


def _only_own_graphs(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    graphs = response.json()
    assert all(graph["id"] not in world.ids["graph_id"] for graph in graphs)


def _borrowed_graph_stays_the_owners(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    """The caller's graph naming the owner's graph: its export holds no sub-graph, its run finds no such graph.

    Both answers are exactly those for a graph id that names nothing.
    """
    control = json.loads(json.dumps(_graph_using_owners_graph(world)).replace(world.ids["graph_id"][0], NOBODY))
    created = client.post("/api/graphs", json=control, headers=headers)
    borrower, nobody = {**response.json(), "response": response}, {**ok(created), "response": created}
    world.extra["created_by_other"].add(nobody["id"])
    stored = [[(node["block_id"], node["input_default"]) for node in graph["nodes"]] for graph in (borrower, nobody)]
    assert json.dumps(stored[0]).replace(world.ids["graph_id"][0], NOBODY) == json.dumps(stored[1]), (
        f"a graph naming the owner's graph is stored differently from one naming no graph: {stored}"
    )
    seen = []
    for graph in (borrower, nobody):
        exported = ok(client.get(f"/api/graphs/{graph['id']}/export", headers=read_after(graph["response"], headers)))
        assert exported["sub_graphs"] == [], "the export of the caller's graph holds the owner's graph"
        run = ok(client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {}}, headers=headers))
        world.extra["created_by_other"].add(run["id"])
        ended = wait_for_run(client, headers, graph["id"], run["id"])
        errors = [node["output_data"].get("error") for node in ended["node_executions"]]
        seen.append((ended["status"], json.dumps(errors).replace(world.ids["graph_id"][0], NOBODY)))
    assert seen[0] == seen[1], f"running the owner's graph as a sub-agent differs from running no graph: {seen}"


NOBODY = "00000000-0000-4000-8000-000000000000"
"""A graph id nobody has."""


ROUTES: dict[tuple[str, str], Plan] = {
    ("GET", "/health"): Plan(200, public=True),
    ("GET", "/ready"): Plan(200, public=True),
    ("GET", "/metrics"): Plan(200, public=True),  # platform-wide counts by route template, no user's data
    ("GET", "/openapi.json"): Plan(200, public=True),
    ("GET", "/docs"): Plan(200, public=True),
    ("GET", "/docs/oauth2-redirect"): Plan(200, public=True),
    ("GET", "/redoc"): Plan(200, public=True),
    ("GET", "/api/blocks"): Plan(200),
    ("POST", "/api/blocks/{block_id}/execute"): Plan(
        200, body=_block_body, params={"block_id": Param(fixed=(CALCULATOR,))}
    ),
    ("GET", "/api/graphs"): Plan(200, check=_only_own_graphs),
    ("POST", "/api/graphs"): Plan(200, body=_graph_using_owners_graph, check=_borrowed_graph_stays_the_owners),
    ("PUT", "/api/graphs/{graph_id}"): Plan(404, body=lambda w: _own_graph()),
    ("PUT", "/api/graphs/{graph_id}/versions/active"): Plan(404, body=lambda w: {"active_graph_version": 1}),
    ("DELETE", "/api/graphs/{graph_id}"): Plan(404),
    ("GET", "/api/graphs/{graph_id}"): Plan(404, queries=({}, {"version": "2"}, {"for_export": "true"})),
    ("GET", "/api/graphs/{graph_id}/versions"): Plan(404),
    ("GET", "/api/graphs/{graph_id}/versions/{version}"): Plan(404),
    ("GET", "/api/graphs/{graph_id}/export"): Plan(404, queries=({}, {"version": "2"})),
    ("POST", "/api/graphs/{graph_id}/execute/{graph_version}"): Plan(404, body=_run_body),
    ("POST", "/api/graphs/{graph_id}/executions/{execution_id}/stop"): Plan(404),
    ("GET", "/api/executions"): Plan(200, check=_only_own_runs),
    ("GET", "/api/graphs/{graph_id}/executions"): Plan(404),
    ("GET", "/api/graphs/{graph_id}/executions/{execution_id}"): Plan(404),
    ("GET", "/api/executions/{execution_id}/events"): Plan(404),
    ("GET", "/api/admin/users/{user_id}/graphs"): Plan(403),
    ("GET", "/api/admin/metrics/pipeline"): Plan(403),
}
"""Every HTTP route of the app by (method, path template). A route missing here fails the matrix."""

WebSocketCheck = Callable[[TestClient, World, OtherCaller, set[str]], None]


def no_frames_of_the_owner(client: TestClient, world: World, caller: OtherCaller, secrets: set[str]) -> None:
    """AutoGPT's ``/ws`` (WEBSOCKET.md, v2): the caller subscribes to the owner's runs and graphs, gets nothing of them.

    A caller without a JWT (an API key) is refused before the socket opens
    (close 4001, no token). Otherwise it subscribes to each of the owner's
    runs (``subscribe_graph_execution``) and graphs
    (``subscribe_graph_executions``); the owner then runs its graph to the
    end; a heartbeat's pong marks the end of what the socket was sent. No
    frame before it may hold any of the owner's secrets except the ids the
    caller sent, and none may be an event. (Written before ``/ws`` existed:
    if its subscribe grows a resume position, subscribe from 0 here too.)
    """
    bearer = caller.headers.get("Authorization", "")
    if not bearer.startswith("Bearer "):
        try:
            with client.websocket_connect("/ws") as socket:
                socket.receive_json()
        except WebSocketDisconnect as closed:
            assert closed.code == 4001, f"a socket without a token closed with {closed.code}"
            return
        raise AssertionError("a socket without a token was accepted")
    sent: set[str] = set()
    with client.websocket_connect(f"/ws?token={bearer.removeprefix('Bearer ')}") as socket:
        for run_id in world.ids["execution_id"]:
            socket.send_json({"method": "subscribe_graph_execution", "data": {"graph_exec_id": run_id}})
            sent.add(run_id)
        for graph_id in world.ids["graph_id"]:
            socket.send_json({"method": "subscribe_graph_executions", "data": {"graph_id": graph_id}})
            sent.add(graph_id)
        graph_id = world.ids["graph_id"][0]
        inputs = {"inputs": {world.extra["input_name"]: world.marker("ws-input")}}
        run = ok(client.post(f"/api/graphs/{graph_id}/execute/1", json=inputs, headers=world.owner_headers))
        wait_for_run(client, world.owner_headers, graph_id, run["id"])
        time.sleep(0.3)  # events of the run are pushed as they are committed: let the last ones arrive
        socket.send_json({"method": "heartbeat", "data": "ping", "success": True})
        while (frame := socket.receive_json())["method"] != "heartbeat":
            assert frame["method"] not in ("graph_execution_event", "node_execution_event"), frame
            leaked = {secret for secret in secrets | world.markers if secret in json.dumps(frame)} - sent
            assert not leaked, f"a frame holds the owner's data {sorted(leaked)[:5]}: {frame}"


WEBSOCKET_ROUTES: dict[str, WebSocketCheck] = {"/ws": no_frames_of_the_owner}
"""Every WebSocket route of the app by path, with its isolation check. A route missing here fails the matrix.

``/ws`` is AutoGPT's protocol; its check runs once the app has that route.
"""


# --------------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One request of the matrix."""

    method: str
    template: str
    url: str
    body: Any
    foreign: bool
    """True when the path names one of the owner's resources."""
    sent: frozenset[str]
    """Owner's values the caller itself put in the request (it may see them echoed)."""


PATH_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def app_routes(app: FastAPI) -> list[tuple[str, Any]]:
    """Every route of the app as ``(full path, original route)``, included routers flattened."""
    return [(str(context.path), context.original_route) for context in iter_route_contexts(app.routes)]


def _route_plans(app: FastAPI) -> tuple[list[tuple[str, str, Plan, Any]], list[str]]:
    """Each (method, path, plan, route) of the app; and what the matrix does not know, as instructions."""
    plans: list[tuple[str, str, Plan, Any]] = []
    unknown: list[str] = []
    for path, route in app_routes(app):
        if isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
            if path not in WEBSOCKET_ROUTES:
                unknown.append(
                    f"WebSocket {path}: add a check to WEBSOCKET_ROUTES in tests/isolation_matrix.py "
                    "(subscribe as the other caller to the owner's ids, assert no frame holds a marker)"
                )
            continue
        if not isinstance(route, Route):
            unknown.append(
                f"{type(route).__name__} {path}: the matrix cannot call it; teach tests/isolation_matrix.py how"
            )
            continue
        for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
            plan = ROUTES.get((method, path))
            if plan is None:
                unknown.append(
                    f"{method} {path}: add a Plan to ROUTES in tests/isolation_matrix.py "
                    "(expected status for another user's ids, a body if it takes one)"
                )
                continue
            for name in PATH_PARAMETER.findall(path):
                if name not in plan.params and name not in PARAMS:
                    unknown.append(
                        f"{method} {path}: path parameter {name!r} unknown; add it to PARAMS "
                        "(Param(kind) for an owner's resource, Param(fixed=...) for a public value) or to the plan"
                    )
            for name in _query_parameters(route):
                if name not in QUERY_PARAMS and name not in plan.id_queries:
                    unknown.append(
                        f"{method} {path}: query parameter {name!r} unknown; add it to QUERY_PARAMS if it names no "
                        "resource, else to the Plan's id_queries with a query holding the owner's id in its queries"
                    )
            if _takes_body(route) and plan.body is None:
                unknown.append(f"{method} {path}: it takes a body; give its Plan a body (with the owner's ids)")
            plans.append((method, path, plan, route))
    return plans, unknown


def _query_parameters(route: Route) -> set[str]:
    """Names of every query parameter of the route, its dependencies' included."""
    if not isinstance(route, APIRoute):
        return set()
    names: set[str] = set()
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        names |= {param.alias for param in dependant.query_params}
        pending.extend(dependant.dependencies)
    return names


def _takes_body(route: Route) -> bool:
    if not isinstance(route, APIRoute):
        return False
    return route.body_field is not None or "requestBody" in (route.openapi_extra or {})


def _cases(method: str, template: str, plan: Plan, world: World) -> Iterable[Case]:
    names = PATH_PARAMETER.findall(template)
    choices = [plan.params.get(name, PARAMS.get(name, Param())).values(world) for name in names]
    names_owners = any(value_is_owners for values in choices for _, value_is_owners in values)
    for combo in itertools.product(*choices):
        foreign = any(is_owners for _, is_owners in combo)
        if names_owners and not foreign:
            continue  # only the caller's own resources: other tests' business
        path = template
        for name, (value, _) in zip(names, combo, strict=True):
            path = re.sub(r"{" + name + r"(:[^}]*)?}", value, path)
        body = plan.body(world) if plan.body else None
        sent = {value for value, is_owners in combo if is_owners}
        sent |= {m for m in _all_secrets(world) if body is not None and m in json.dumps(body)}
        for given in plan.queries:
            query = given(world) if callable(given) else given
            in_query = {m for m in _all_secrets(world) if m in urlencode(query)}
            url = path + ("?" + urlencode(query) if query else "")
            yield Case(method, template, url, body, foreign or bool(in_query), frozenset(sent | in_query))


def _all_secrets(world: World) -> set[str]:
    return world.markers | {v for values in world.ids.values() for v in values}


def _call(client: TestClient, case: Case, headers: dict[str, str]) -> Any:
    return client.request(case.method, case.url, headers=headers, json=case.body)


def _swapped(case: Case) -> tuple[Case, dict[str, str]]:
    """The same request with each of the owner's values swapped for a fresh one naming nothing."""
    swap = {
        value: (str(uuid.uuid4()) if UUID_PATTERN.fullmatch(value) else f"nobody-{uuid.uuid4().hex}")
        for value in case.sent
    }

    def apply(text: str) -> str:
        for old, new in swap.items():
            text = text.replace(old, new)
        return text

    body = json.loads(apply(json.dumps(case.body))) if case.body is not None else None
    return Case(case.method, case.template, apply(case.url), body, case.foreign, frozenset()), swap


def _leaks(response: Any, secrets: set[str]) -> set[str]:
    text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return {secret for secret in secrets if secret in text}


def graphs_and_runs_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """The owner's graphs (every version, exports) and runs (every detail) as it reads them."""
    view: dict[str, Any] = {"graphs": ok(client.get("/api/graphs", headers=headers))}
    view["runs"] = ok(client.get("/api/executions", headers=headers))
    for graph_id in world.ids["graph_id"]:
        view[f"versions {graph_id}"] = ok(client.get(f"/api/graphs/{graph_id}/versions", headers=headers))
        view[f"export {graph_id}"] = ok(client.get(f"/api/graphs/{graph_id}/export", headers=headers))
        view[f"runs of {graph_id}"] = ok(client.get(f"/api/graphs/{graph_id}/executions", headers=headers))
    for run in (run for run in view["runs"] if run["user_id"] == world.owner_id):
        view[f"run {run['id']}"] = ok(
            client.get(f"/api/graphs/{run['graph_id']}/executions/{run['id']}", headers=headers)
        )
    assert set(world.ids["execution_id"]) <= {run["id"] for run in view["runs"]}, "the owner does not see its runs"
    return view


OWNER_VIEWS: list[Callable[[TestClient, dict[str, str], World], dict[str, Any]]] = [graphs_and_runs_view]
"""What the owner reads of its data, before and after the other callers' calls (add one per kind: API keys ...)."""


def owner_view(client: TestClient, container: Container, world: World) -> dict[str, Any]:
    """Everything the owner sees of its data, read once the read models applied every log's head."""
    token = encode_token({context: (log.head(), None) for context, log in container.event_logs.items()})
    headers = {**world.owner_headers, TOKEN_HEADER: token}
    view: dict[str, Any] = {}
    for read in OWNER_VIEWS:
        view.update(read(client, headers, world))
    return view


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def learn_secrets(world: World, view: dict[str, Any], public: Iterable[Any]) -> None:
    """Every id the owner's views show, its user id and its markers: minus what public answers hold."""
    shown = {match for text in _strings(view) for match in UUID_PATTERN.findall(text)}
    known = {match for answer in public for text in _strings(answer) for match in UUID_PATTERN.findall(text)}
    world.markers |= (shown - known) | {world.owner_id}
    # error texts of the owner's failed runs are secrets too
    for key, run in view.items():
        if key.startswith("run "):
            world.markers |= {
                str(error) for node in run["node_executions"] for error in node["output_data"].get("error", [])
            }


def run_matrix(app: FastAPI, client: TestClient, container: Container, slow_url: str) -> list[str]:
    """Plant, call every route as every other caller, verify; returns the failures (empty when isolated).

    ``slow_url`` answers only after the matrix is done: the owner's running run waits on it.
    """
    owner_id, other_id = f"owner-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    world = World(owner_id, _bearer(container, owner_id))
    world.extra["slow_url"] = slow_url
    world.ids["user_id"] = [owner_id]
    world.extra["created_by_other"] = set()
    plans, unknown = _route_plans(app)
    if unknown:
        return ["The isolation matrix does not know these routes:", *unknown]

    for provision in PROVISIONERS:
        provision(client, world)
    other_jwt = _bearer(container, other_id)
    plant_own_graph(client, world, other_jwt)
    for provision_own in OWN_PROVISIONERS:
        provision_own(client, world, other_jwt)
    public = [ok(client.get("/api/blocks", headers=other_jwt)), ok(client.get("/openapi.json"))]
    before = owner_view(client, container, world)
    learn_secrets(world, before, public)
    secrets = _all_secrets(world)

    setup = Setup(client, container, world, other_id, other_jwt)
    callers = [factory(setup) for factory in OTHER_CALLERS]
    failures: list[str] = []
    cases = [case for method, path, plan, route in plans for case in _cases(method, path, plan, world)]
    by_template = {(method, path): plan for method, path, plan, _ in plans}
    for caller in callers:
        # the owner's ids first: calls naming them may write nothing, which the log heads show
        heads = _heads(container)
        for case in (c for c in cases if c.foreign):
            failures += _check_case(client, caller, case, by_template[(case.method, case.template)], world, secrets)
        if _heads(container) != heads:
            failures.append(f"{caller.name}: calls on the owner's ids wrote events ({heads} -> {_heads(container)})")
        for case in (c for c in cases if not c.foreign):
            failures += _check_case(client, caller, case, by_template[(case.method, case.template)], world, secrets)
    after_view = owner_view(client, container, world)
    if after_view != before:
        changed = sorted(key for key in set(before) | set(after_view) if before.get(key) != after_view.get(key))
        failures.append(f"the owner's data changed after the other callers' calls: {changed}")
    # last: the WebSocket checks have the owner start runs
    sockets = {path for path, route in app_routes(app) if isinstance(route, (APIWebSocketRoute, WebSocketRoute))}
    for caller in callers:
        for name in sorted(sockets):
            try:
                WEBSOCKET_ROUTES[name](client, world, caller, secrets)
            except AssertionError as exc:
                failures.append(f"{caller.name} WebSocket {name}: {exc}")
    for cleanup in world.cleanups:
        cleanup()
    return failures


def _heads(container: Container) -> dict[str, int]:
    return {context: log.head() for context, log in container.event_logs.items()}


def _check_case(
    client: TestClient, caller: OtherCaller, case: Case, plan: Plan, world: World, secrets: set[str]
) -> list[str]:
    label = f"{caller.name}: {case.method} {case.url}"
    authenticated = plan.public or caller.authenticates(case.template)
    expect = plan.expect if authenticated else 401
    response = _call(client, case, caller.headers)
    failures = []
    if response.status_code == 429:
        return [f"{label} was rate limited: raise the limit in the isolation fixtures' settings"]
    if response.status_code != expect:
        failures.append(f"{label} answered {response.status_code}, expected {expect}: {response.text[:300]}")
    leaked = _leaks(response, secrets - case.sent - (plan.echoes(world) if plan.echoes else set()))
    if leaked:
        failures.append(f"{label} shows the owner's data {sorted(leaked)[:5]}: {response.text[:300]}")
    if response.status_code >= 400 and case.sent and plan.same_as_unknown:
        control, swap = _swapped(case)
        answer = _call(client, control, caller.headers)
        unswapped = answer.text
        for old, new in swap.items():
            unswapped = unswapped.replace(new, old)
        if (answer.status_code, _comparable(unswapped)) != (response.status_code, _comparable(response.text)):
            failures.append(
                f"{label} answers differently for the owner's ids than for ids naming nothing: "
                f"{response.status_code} {response.text[:200]} vs {answer.status_code} {unswapped[:200]}"
            )
    if response.status_code < 300 and not case.foreign:
        if case.method == "POST" and case.template in ("/api/graphs", "/api/graphs/{graph_id}/execute/{graph_version}"):
            world.extra["created_by_other"].add(response.json().get("id"))
        if plan.check is not None and authenticated:
            try:
                plan.check(client, caller.headers, response, world)
            except AssertionError as exc:
                failures.append(f"{label}: {exc}")
    return failures


VOLATILE_KEYS = frozenset({"request_id", "requestId", "timestamp", "trace_id"})
"""Keys of an error body that differ between any two requests: left out when two answers are compared."""


def _comparable(text: str) -> Any:
    try:
        body = json.loads(text)
    except ValueError:
        return text
    return {k: v for k, v in body.items() if k not in VOLATILE_KEYS} if isinstance(body, dict) else body


def _bearer(container: Container, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(container.jwt, user_id, email=f'{user_id}@example.com')}"}


# --------------------------------------------------------------------------------------------
# API keys and the external API
# --------------------------------------------------------------------------------------------

EVERY_PERMISSION = [permission.value for permission in APIKeyPermission]


def plant_api_key(client: TestClient, world: World) -> None:
    """The owner's API key: its name and description are markers, the raw key a secret."""
    created = ok(
        client.post(
            "/api/api-keys",
            headers=world.owner_headers,
            json={
                "name": world.marker("key-name"),
                "description": world.marker("key-description"),
                "permissions": EVERY_PERMISSION,
            },
        )
    )
    world.ids["key_id"] = [created["api_key"]["id"]]
    world.markers.add(created["plain_text_key"])


def api_keys_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its keys, before and after the other callers' calls."""
    return {"keys": ok(client.get("/api/api-keys", headers=headers))}


def second_users_api_key(setup: Setup) -> OtherCaller:
    """The second user's API key, with every permission: it authenticates on the external API only."""
    created = ok(
        setup.client.post(
            "/api/api-keys",
            headers=setup.other_jwt,
            json={"name": "other", "description": "", "permissions": EVERY_PERMISSION},
        )
    )
    return OtherCaller(
        "second user's API key",
        {"X-API-Key": created["plain_text_key"]},
        lambda path: path.startswith("/external-api/"),
    )


PROVISIONERS.append(plant_api_key)
OWNER_VIEWS.append(api_keys_view)
OTHER_CALLERS.append(second_users_api_key)
PARAMS["key_id"] = Param("key_id")
ROUTES.update(
    {
        ("POST", "/api/api-keys"): Plan(200, body=lambda w: {"name": "mine", "permissions": ["IDENTITY"]}),
        ("GET", "/api/api-keys"): Plan(200),
        ("GET", "/api/api-keys/{key_id}"): Plan(404),
        ("DELETE", "/api/api-keys/{key_id}"): Plan(404),
        ("POST", "/api/api-keys/{key_id}/suspend"): Plan(404),
        ("PUT", "/api/api-keys/{key_id}/permissions"): Plan(404, body=lambda w: {"permissions": ["IDENTITY"]}),
        ("GET", "/external-api/v1/me"): Plan(200),
        ("GET", "/external-api/v1/blocks"): Plan(200),
        ("POST", "/external-api/v1/blocks/{block_id}/execute"): Plan(
            200, body=_block_body, params={"block_id": Param(fixed=(CALCULATOR,))}
        ),
        ("POST", "/external-api/v1/graphs/{graph_id}/execute/{graph_version}"): Plan(
            404, body=lambda w: _run_body(w)["inputs"]
        ),
        ("GET", "/external-api/v1/graphs/{graph_id}/executions/{execution_id}/results"): Plan(404),
    }
)


# --------------------------------------------------------------------------------------------
# Credits
# --------------------------------------------------------------------------------------------


def plant_credits(client: TestClient, world: World) -> None:
    """The owner's top-ups (their keys are markers) and a refund request with a marker reason."""
    headers = world.owner_headers
    keys = [world.marker("top-up-key"), world.marker("top-up-key")]
    for key in keys:
        ok(client.post("/api/credits", json={"credit_amount": 700}, headers={**headers, "Idempotency-Key": key}))
    ok(client.post(f"/api/credits/{keys[0]}/refund", json={"reason": world.marker("refund-reason")}, headers=headers))
    world.ids["transaction_key"] = keys


def credits_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its credits, before and after the other callers' calls."""
    return {
        "credits": ok(client.get("/api/credits", headers=headers)),
        "credit transactions": ok(client.get("/api/credits/transactions", headers=headers)),
        "refunds": ok(client.get("/api/credits/refunds", headers=headers)),
    }


PROVISIONERS.append(plant_credits)
OWNER_VIEWS.append(credits_view)
PARAMS["transaction_key"] = Param("transaction_key")
QUERY_PARAMS.update(
    {
        "transaction_time": "a time (the caller's own page cursor)",
        "transaction_type": "a transaction type",
        "transaction_count_limit": "a page size",
    }
)
ROUTES.update(
    {
        ("GET", "/api/credits"): Plan(200),
        ("POST", "/api/credits"): Plan(200, body=lambda w: {"credit_amount": 500}),
        ("GET", "/api/credits/transactions"): Plan(
            200, queries=({}, {"transaction_type": "TOP_UP", "transaction_count_limit": "5"})
        ),
        ("GET", "/api/credits/refunds"): Plan(200),
        ("POST", "/api/credits/{transaction_key}/refund"): Plan(404, body=lambda w: {"reason": "mine now"}),
        ("POST", "/api/credits/admin/add_credits"): Plan(
            403, body=lambda w: {"user_id": w.owner_id, "amount": 100, "comments": "gift"}
        ),
    }
)


# --------------------------------------------------------------------------------------------
# Integration credentials and the erasure of a user's secrets
# --------------------------------------------------------------------------------------------


def plant_credentials(client: TestClient, world: World) -> None:
    """The owner's stored API key for openai: its title and the key itself are secrets of the owner."""
    created = ok(
        client.post(
            "/api/integrations/openai/credentials",
            headers=world.owner_headers,
            json={"type": "api_key", "title": world.marker("credentials-title"), "api_key": world.marker("sk")},
        )
    )
    world.ids["credentials_id"] = [created["id"]]


def credentials_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its credentials, before and after the other callers' calls."""
    return {"credentials": ok(client.get("/api/integrations/credentials", headers=headers))}


def _only_own_credentials(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    assert all(item["id"] not in world.ids["credentials_id"] for item in response.json())


PROVISIONERS.append(plant_credentials)
OWNER_VIEWS.append(credentials_view)
PARAMS["credentials_id"] = Param("credentials_id")
PARAMS["provider"] = Param(fixed=("openai", "github"))
QUERY_PARAMS["force"] = "a flag (AutoGPT's webhook override)"
ROUTES.update(
    {
        ("POST", "/api/integrations/{provider}/credentials"): Plan(
            201, body=lambda w: {"type": "api_key", "title": "mine", "api_key": "sk-mine"}
        ),
        ("GET", "/api/integrations/credentials"): Plan(200, check=_only_own_credentials),
        ("GET", "/api/integrations/{provider}/credentials"): Plan(200, check=_only_own_credentials),
        ("GET", "/api/integrations/{provider}/credentials/{credentials_id}"): Plan(404),
        ("DELETE", "/api/integrations/{provider}/credentials/{credentials_id}"): Plan(
            404, queries=({}, {"force": "true"})
        ),
        ("DELETE", "/api/admin/users/{user_id}/secrets"): Plan(403),
    }
)


# --------------------------------------------------------------------------------------------
# Executions housekeeping: delete, share, the public shared page
# --------------------------------------------------------------------------------------------


def plant_shares(client: TestClient, world: World) -> None:
    """The owner shares its completed run (the link stays live) and shares then unshares its failed run.

    The live token is a secret of the owner (its page shows the owner's
    outputs): the public route is only called with the revoked token, which
    must answer exactly as a token naming nothing. Other callers' share,
    unshare and delete on the owner's runs must record nothing: the owner's
    page keeps working (``shared_page_view``).
    """
    headers = world.owner_headers
    graph_id = world.ids["graph_id"][0]
    done, failed = world.ids["execution_id"][:2]
    live = ok(client.post(f"/api/graphs/{graph_id}/executions/{done}/share", headers=headers))
    world.markers.add(live["share_token"])
    world.extra["live_share_token"] = live["share_token"]
    revoked = ok(client.post(f"/api/graphs/{graph_id}/executions/{failed}/share", headers=headers))
    response = client.delete(f"/api/graphs/{graph_id}/executions/{failed}/share", headers=headers)
    assert response.status_code == 204, response.text
    world.ids["share_token"] = [revoked["share_token"]]


def shared_page_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """The owner's live shared page (read without credentials, as anyone holding the link)."""
    token = world.extra["live_share_token"]
    consistency = {TOKEN_HEADER: headers[TOKEN_HEADER]} if TOKEN_HEADER in headers else {}
    return {"shared page": ok(client.get(f"/api/public/shared/{token}", headers=consistency))}


PROVISIONERS.append(plant_shares)
OWNER_VIEWS.append(shared_page_view)
PARAMS["share_token"] = Param("share_token")
ROUTES.update(
    {
        ("DELETE", "/api/executions/{execution_id}"): Plan(404),
        ("POST", "/api/graphs/{graph_id}/executions/{execution_id}/share"): Plan(404),
        ("DELETE", "/api/graphs/{graph_id}/executions/{execution_id}/share"): Plan(404),
        # public by token: the owner's revoked token answers as a token naming nothing, holding nothing of the owner
        ("GET", "/api/public/shared/{share_token}"): Plan(404, public=True),
    }
)


# --------------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------------


def _schedule_body(world: World) -> dict[str, Any]:
    return {"name": "mine", "cron": "0 9 * * 1", "inputs": {world.extra["input_name"]: 1}, "credentials": {}}


def plant_schedule(client: TestClient, world: World) -> None:
    """The owner's schedule of its graph: its name and input value are markers."""
    graph_id = world.ids["graph_id"][0]
    created = client.post(
        f"/api/graphs/{graph_id}/schedules",
        headers=world.owner_headers,
        json={
            "name": world.marker("schedule-name"),
            "cron": "0 9 * * 1",
            "inputs": {world.extra["input_name"]: world.marker("schedule-input")},
            "credentials": {},
        },
    )
    ok(client.get("/api/schedules", headers=read_after(created, world.owner_headers)))
    world.ids["schedule_id"] = [ok(created)["id"]]


def schedules_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its schedules, before and after the other callers' calls."""
    return {"schedules": ok(client.get("/api/schedules", headers=headers))}


def _only_own_schedules(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    assert all(item["id"] not in world.ids["schedule_id"] for item in response.json())


PROVISIONERS.append(plant_schedule)
OWNER_VIEWS.append(schedules_view)
PARAMS["schedule_id"] = Param("schedule_id")
ROUTES.update(
    {
        ("POST", "/api/graphs/{graph_id}/schedules"): Plan(404, body=_schedule_body),
        ("GET", "/api/graphs/{graph_id}/schedules"): Plan(200, check=_only_own_schedules),
        ("GET", "/api/schedules"): Plan(200, check=_only_own_schedules),
        ("DELETE", "/api/schedules/{schedule_id}"): Plan(404),
    }
)


# --------------------------------------------------------------------------------------------
# The store: the owner's profile and its PENDING submission stay the owner's
# --------------------------------------------------------------------------------------------


def plant_store(client: TestClient, world: World) -> None:
    """The owner's profile (a marker username) and a PENDING submission of its graph (marker texts and slug)."""
    headers = world.owner_headers
    username = world.marker("user").lower()
    world.markers.add(username)
    profile = {"name": world.marker("profile-name"), "username": username, "description": world.marker("about")}
    ok(client.post("/api/store/profile", json=profile, headers=headers))
    slug = world.marker("slug").lower()
    world.markers.add(slug)
    body = {
        "agent_id": world.ids["graph_id"][0],
        "agent_version": 1,
        "slug": slug,
        "name": world.marker("listing-name"),
        "description": world.marker("listing-description"),
        "categories": [world.marker("c")],
    }
    submitted = ok(client.post("/api/store/submissions", json=body, headers=headers))
    world.ids["store_listing_version_id"] = [submitted["store_listing_version_id"]]
    world.ids["store_username"] = [username]
    world.ids["store_slug"] = [slug]
    world.extra["other_username"] = f"other-{uuid.uuid4().hex[:12]}"  # the other caller's, fresh per matrix


def store_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its store data, before and after the other callers' calls."""
    return {
        "store profile": ok(client.get("/api/store/profile", headers=headers)),
        "store submissions": ok(client.get("/api/store/submissions", headers=headers)),
        "store myagents": ok(client.get("/api/store/myagents", headers=headers)),
    }


def _only_own_submissions(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    ids = {s["store_listing_version_id"] for s in response.json()["submissions"]}
    assert not ids & set(world.ids["store_listing_version_id"])


def _only_own_graphs_listed(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    assert all(agent["agent_id"] not in world.ids["graph_id"] for agent in response.json()["agents"])


def _store_submission(world: World) -> dict[str, Any]:
    """A submission of the owner's graph: the caller cannot submit it (404 as for a graph naming nothing)."""
    return {"agent_id": world.ids["graph_id"][0], "agent_version": 1, "slug": "mine", "name": "mine"}


def plant_own_profile(client: TestClient, world: World, headers: dict[str, str]) -> None:
    """The other caller's own profile: its ``GET /api/store/profile`` is 200 whatever order the routes run in."""
    saved = client.post(
        "/api/store/profile", json={"name": "mine", "username": world.extra["other_username"]}, headers=headers
    )
    ok(client.get("/api/store/profile", headers=read_after(saved, headers)))


PROVISIONERS.append(plant_store)
OWN_PROVISIONERS.append(plant_own_profile)
OWNER_VIEWS.append(store_view)
PARAMS["submission_id"] = Param("store_listing_version_id")
PARAMS["store_listing_version_id"] = Param("store_listing_version_id")
PARAMS["username"] = Param("store_username")
PARAMS["agent_name"] = Param("store_slug")
QUERY_PARAMS.update(
    {
        "featured": "a flag",
        "sorted_by": "a sort order",
        "search_query": "a search text",
        "category": "a category",
        "status": "a submission status",
        "search": "a search text",
    }
)
_BY_OWNER = ({}, lambda w: {"creator": w.ids["store_username"][0]})
ROUTES.update(
    {
        ("GET", "/api/store/profile"): Plan(200),
        ("POST", "/api/store/profile"): Plan(
            200, body=lambda w: {"name": "mine", "username": w.extra["other_username"]}
        ),
        ("GET", "/api/store/creators"): Plan(200, queries=({}, {"search_query": "owner"})),
        ("GET", "/api/store/creator/{username}"): Plan(404),
        ("GET", "/api/store/agents"): Plan(200, queries=_BY_OWNER, id_queries=frozenset({"creator"})),
        ("GET", "/api/store/agents/{username}/{agent_name}"): Plan(404),
        ("POST", "/api/store/agents/{username}/{agent_name}/review"): Plan(
            404, body=lambda w: {"store_listing_version_id": w.ids["store_listing_version_id"][0], "score": 5}
        ),
        ("GET", "/api/store/myagents"): Plan(200, check=_only_own_graphs_listed),
        ("GET", "/api/store/submissions"): Plan(200, check=_only_own_submissions),
        ("POST", "/api/store/submissions"): Plan(404, body=_store_submission),
        ("DELETE", "/api/store/submissions/{submission_id}"): Plan(404),
        ("GET", "/external-api/v1/store/agents"): Plan(200, queries=_BY_OWNER, id_queries=frozenset({"creator"})),
        ("GET", "/external-api/v1/store/agents/{username}/{agent_name}"): Plan(404),
        ("GET", "/external-api/v1/store/creators"): Plan(200),
        ("GET", "/external-api/v1/store/creators/{username}"): Plan(404),
        ("GET", "/api/store/admin/listings"): Plan(403, queries=({}, {"status": "PENDING", "search": "owner"})),
        ("POST", "/api/store/admin/submissions/{store_listing_version_id}/review"): Plan(
            403,
            body=lambda w: {
                "store_listing_version_id": w.ids["store_listing_version_id"][0],
                "is_approved": True,
                "comments": "mine now",
            },
        ),
    }
)


# --------------------------------------------------------------------------------------------
# Library agents and presets
# --------------------------------------------------------------------------------------------


def plant_library(client: TestClient, world: World) -> None:
    """The owner's library agent (its first graph, favoured) and a preset whose texts and input are markers."""
    headers = world.owner_headers
    graph_id = world.ids["graph_id"][0]
    agent = ok(client.get(f"/api/library/agents/by-graph/{graph_id}", headers=headers))
    ok(client.patch(f"/api/library/agents/{agent['id']}", json={"is_favorite": True}, headers=headers))
    preset = ok(
        client.post(
            "/api/library/presets",
            headers=headers,
            json={
                "graph_id": graph_id,
                "graph_version": 1,
                "inputs": {world.extra["input_name"]: world.marker("preset-input")},
                "name": world.marker("preset-name"),
                "description": world.marker("preset-description"),
            },
        )
    )
    world.ids["library_agent_id"] = [agent["id"]]
    world.ids["preset_id"] = [preset["id"]]


def library_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its library and presets, before and after the other callers' calls."""
    return {
        "library": ok(client.get("/api/library/agents", headers=headers)),
        "library favourites": ok(client.get("/api/library/agents/favorites", headers=headers)),
        "presets": ok(client.get("/api/library/presets", headers=headers)),
    }


def _only_own_library(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    answer = response.json()
    assert all(agent["id"] not in world.ids["library_agent_id"] for agent in answer["agents"])
    assert all(agent["graph_id"] not in world.ids["graph_id"] for agent in answer["agents"])


def _only_own_presets(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    answer = response.json()
    assert all(preset["id"] not in world.ids["preset_id"] for preset in answer["presets"])
    assert answer["pagination"]["total_items"] == len(answer["presets"]), "the count includes others' presets"


PROVISIONERS.append(plant_library)
OWNER_VIEWS.append(library_view)
PARAMS["library_agent_id"] = Param("library_agent_id")
PARAMS["preset_id"] = Param("preset_id")
QUERY_PARAMS.update({"search_term": "a search text", "sort_by": "a sort order"})
ROUTES.update(
    {
        ("GET", "/api/library/agents"): Plan(
            200, queries=({}, {"search_term": "a", "sort_by": "createdAt"}), check=_only_own_library
        ),
        ("GET", "/api/library/agents/favorites"): Plan(200, check=_only_own_library),
        ("GET", "/api/library/agents/{library_agent_id}"): Plan(404),
        ("GET", "/api/library/agents/by-graph/{graph_id}"): Plan(404),
        ("POST", "/api/library/agents"): Plan(404, body=lambda w: {"store_listing_version_id": NOBODY}),
        ("PATCH", "/api/library/agents/{library_agent_id}"): Plan(404, body=lambda w: {"is_favorite": False}),
        ("DELETE", "/api/library/agents/{library_agent_id}"): Plan(404),
        ("POST", "/api/library/agents/{library_agent_id}/fork"): Plan(404),
        ("GET", "/api/library/presets"): Plan(
            200,
            queries=({}, lambda w: {"graph_id": w.ids["graph_id"][0]}),
            id_queries=frozenset({"graph_id"}),
            check=_only_own_presets,
        ),
        ("POST", "/api/library/presets"): Plan(
            404, body=lambda w: {"graph_id": w.ids["graph_id"][0], "graph_version": 1, "name": "mine", "inputs": {}}
        ),
        ("GET", "/api/library/presets/{preset_id}"): Plan(404),
        ("PATCH", "/api/library/presets/{preset_id}"): Plan(404, body=lambda w: {"name": "mine now"}),
        ("DELETE", "/api/library/presets/{preset_id}"): Plan(404),
        ("POST", "/api/library/presets/{preset_id}/execute"): Plan(404, body=lambda w: {"inputs": {}}),
    }
)


# --------------------------------------------------------------------------------------------
# Notifications and their preferences
# --------------------------------------------------------------------------------------------


def plant_notifications(client: TestClient, world: World) -> None:
    """The owner's preferences (its e-mail address is a marker) and the notifications of its finished runs."""
    address = f"{world.marker('email')}@example.com"
    body = {"email": address, "preferences": {"LOW_BALANCE": False}, "daily_limit": 7}
    ok(client.post("/api/auth/user/preferences", json=body, headers=world.owner_headers))
    deadline = time.monotonic() + 60
    while not (items := ok(client.get("/api/notifications", headers=world.owner_headers))["notifications"]):
        assert time.monotonic() < deadline, "the owner's runs gave no notification"
        time.sleep(0.05)
    world.ids["notification_id"] = [item["id"] for item in items]


def notifications_view(client: TestClient, headers: dict[str, str], world: World) -> dict[str, Any]:
    """What the owner reads of its notifications and preferences, before and after the other callers' calls."""
    return {
        "notifications": ok(client.get("/api/notifications", params={"page_size": 100}, headers=headers)),
        "notification preferences": ok(client.get("/api/auth/user/preferences", headers=headers)),
    }


def _only_own_notifications(client: TestClient, headers: dict[str, str], response: Any, world: World) -> None:
    assert all(item["id"] not in world.ids["notification_id"] for item in response.json()["notifications"])


PROVISIONERS.append(plant_notifications)
OWNER_VIEWS.append(notifications_view)
PARAMS["notification_id"] = Param("notification_id")
ROUTES.update(
    {
        ("GET", "/api/auth/user/preferences"): Plan(200),
        ("POST", "/api/auth/user/preferences"): Plan(
            200, body=lambda w: {"email": "me@example.com", "preferences": {"AGENT_RUN": False}, "daily_limit": 1}
        ),
        ("GET", "/api/notifications"): Plan(
            200,
            queries=({}, {"page": "1", "page_size": "5"}),
            check=_only_own_notifications,
            # the caller's own failed sub-agent node: "Graph <the id it asked for> ..." (``POST /api/graphs``'s check)
            echoes=lambda world: {world.ids["graph_id"][0]},
        ),
        ("POST", "/api/notifications/{notification_id}/read"): Plan(404),
    }
)
