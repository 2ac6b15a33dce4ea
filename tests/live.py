"""Talking to the live-updates endpoints of a served app: tokens, a slow chain graph, a WebSocket reader."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.fakes.http_server import FakeHTTPServer
from tests.unit.api.graph_samples import INPUT, OUTPUT

WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


def token(env: dict[str, str], user: str) -> str:
    """A dev token for ``user`` from the served app's key."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", user], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def slow_chain(server: FakeHTTPServer, steps: int, seconds: float, name: str = "slow chain") -> dict[str, Any]:
    """Input -> step 1 -> ... -> step N -> Output; each step an HTTP call the fake server delays."""
    nodes: list[dict[str, Any]] = [{"id": "in", "block_id": INPUT, "input_default": {"name": "start"}}]
    links = []
    previous, pin = "in", "result"
    for step in range(1, steps + 1):
        path = f"/{name.replace(' ', '-')}/{step}"
        server.delay(path, seconds)
        nodes.append(
            {"id": f"s{step}", "block_id": WEB_REQUEST, "input_default": {"url": server.url(path), "method": "POST"}}
        )
        links.append({"source_id": previous, "source_name": pin, "sink_id": f"s{step}", "sink_name": "body"})
        previous, pin = f"s{step}", "response_#_json"
    nodes.append({"id": "out", "block_id": OUTPUT, "input_default": {"name": "final"}})
    links.append({"source_id": previous, "source_name": pin, "sink_id": "out", "sink_name": "value"})
    return {"name": name, "nodes": nodes, "links": links}


def create_graph(base: str, headers: dict[str, str], graph: dict[str, Any]) -> str:
    """Store ``graph``; its id."""
    created = httpx.post(f"{base}/api/graphs", json={"graph": graph}, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def execute(base: str, headers: dict[str, str], graph_id: str, inputs: dict[str, Any]) -> str:
    """Start a run; its id."""
    answer = httpx.post(f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": inputs}, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def ws_url(base: str, jwt: str | None) -> str:
    """The ``/ws`` address of the app at ``base``."""
    return base.replace("http://", "ws://") + "/ws" + (f"?token={jwt}" if jwt is not None else "")


def open_socket(base: str, jwt: str) -> ClientConnection:
    """A connected ``/ws`` client."""
    return connect(ws_url(base, jwt), open_timeout=10, max_size=None)


def send(sock: ClientConnection, method: str, data: Any) -> None:
    """One client message in AutoGPT's envelope."""
    sock.send(json.dumps({"method": method, "data": data}))


def receive(sock: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next server message."""
    return dict(json.loads(sock.recv(timeout=timeout)))


def reply_to(sock: ClientConnection, method: str, timeout: float = 10.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The server's reply to ``method``, and the updates pushed before it."""
    pushed = []
    while True:
        message = receive(sock, timeout)
        if message["method"] == method:
            return message, pushed
        pushed.append(message)


def is_final(message: dict[str, Any]) -> bool:
    """The run's last update: a graph event with an ending status."""
    return message.get("method") == "graph_execution_event" and message["data"]["status"] in (
        "COMPLETED",
        "FAILED",
        "TERMINATED",
    )


def read_until_final(sock: ClientConnection, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every pushed update until the run's final one."""
    deadline = time.monotonic() + timeout
    pushed: list[dict[str, Any]] = []
    while True:
        message = receive(sock, max(0.1, deadline - time.monotonic()))
        if message["method"] in ("graph_execution_event", "node_execution_event"):
            pushed.append(message)
            if is_final(message):
                return pushed
