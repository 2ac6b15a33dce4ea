"""Live updates over a real socket: ``agentgraph serve`` (embedded) as a process, AutoGPT's ``/ws`` and the SSE stream.

The notifier runs inside the API process here (no Redis); the distributed
path (notifier process -> Redis -> API process) is in
``tests/integration/test_live_updates_redis.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.fakes.http_server import FakeHTTPServer
from tests.live import (
    create_graph,
    execute,
    open_socket,
    read_until_final,
    receive,
    reply_to,
    send,
    slow_chain,
    token,
    ws_url,
)
from tests.serving import embedded_server

STEPS = 12
STEP_SECONDS = 0.15


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], FakeHTTPServer]]:
    with (
        FakeHTTPServer() as fake,
        embedded_server(tmp_path, {"AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS": "true"}) as (base, env, _),
    ):
        yield base, env, fake
    print((tmp_path / "serve.log").read_text()[-5000:])  # shown when a test failed


def _headers(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}


def _updates_key(messages: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    return [(m["position"], m["method"], json.dumps(m["data"], sort_keys=True)) for m in messages]


def _node_statuses(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    statuses: dict[str, list[str]] = {}
    for m in messages:
        if m["method"] == "node_execution_event":
            statuses.setdefault(m["data"]["node_id"], []).append(m["data"]["status"])
    return statuses


def test_bad_tokens_are_refused_before_the_socket_is_accepted(served: tuple[str, dict[str, str], Any]) -> None:
    base, _, _ = served
    # AutoGPT closes before accepting (4001 no token, 4002 no sub, 4003 bad token): the handshake is refused
    for jwt in (None, "not-a-jwt"):
        with pytest.raises(InvalidStatus) as refused, connect(ws_url(base, jwt), open_timeout=10):
            pass
        assert refused.value.response.status_code == 403


def test_the_protocol_acks_errors_and_heartbeat_as_autogpt(served: tuple[str, dict[str, str], Any]) -> None:
    base, env, _ = served
    alice = token(env, "alice")
    with open_socket(base, alice) as sock:
        assert sock.protocol.extensions == []  # the client offers permessage-deflate; AGENTGRAPH_WS_COMPRESSION is off
        sock.send(json.dumps({"method": "heartbeat", "data": "ping", "success": True}))
        assert json.loads(sock.recv(timeout=10)) == {"method": "heartbeat", "data": "pong", "success": True}
        sock.send("not json")
        assert receive(sock) == {
            "method": "error",
            "data": None,
            "success": False,
            "channel": None,
            "error": "Invalid message format. Review the schema and retry",
        }
        send(sock, "subscribe_graph_execution", None)
        assert receive(sock)["error"] == "Subscription data missing"
        send(sock, "subscribe_graph_execution", {"graph_id": "x"})
        assert receive(sock)["error"] == "Invalid message data. Refer to the API schema"
        send(sock, "graph_execution_event", {"x": 1})
        assert receive(sock)["error"] == "Message type is not processed by the server"
        graph_id = "0b0b0b0b-0000-4000-8000-000000000000"
        send(sock, "subscribe_graph_executions", {"graph_id": graph_id})
        assert receive(sock) == {
            "method": "subscribe_graph_executions",
            "data": None,
            "success": True,
            "channel": f"alice|graph#{graph_id}|executions",
            "error": None,
        }
        run_id = "0c0c0c0c-0000-4000-8000-000000000000"
        send(sock, "unsubscribe", {"graph_exec_id": run_id})
        assert receive(sock) == {"method": "unsubscribe", "data": None, "success": True, "channel": None, "error": None}
        # a run that does not exist (or is someone else's): no reply at all, as AutoGPT's newest server
        send(sock, "subscribe_graph_execution", {"graph_exec_id": run_id})
        with pytest.raises(TimeoutError):
            sock.recv(timeout=1.0)


def test_the_socket_receives_every_node_event_of_a_run_in_order(
    served: tuple[str, dict[str, str], FakeHTTPServer],
) -> None:
    base, env, fake = served
    alice = token(env, "alice")
    graph_id = create_graph(base, _headers(alice), slow_chain(fake, STEPS, STEP_SECONDS))
    with open_socket(base, alice) as sock:
        send(sock, "subscribe_graph_executions", {"graph_id": graph_id})
        assert receive(sock)["success"] is True
        run_id = execute(base, _headers(alice), graph_id, {"start": {"n": 1}})
        # the first graph event names the run; subscribing to it from position 0 replays what came before
        first = receive(sock)
        assert first["method"] == "graph_execution_event" and first["data"]["id"] == run_id
        send(sock, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": 0})
        ack, _ = reply_to(sock, "subscribe_graph_execution")
        assert ack["channel"] == f"alice|graph_exec#{run_id}" and ack["success"] is True
        run_updates = [m for m in read_until_final(sock) if m["channel"] == ack["channel"]]
    assert run_updates[-1]["data"]["status"] == "COMPLETED"
    positions = [m["position"] for m in run_updates]
    assert positions == sorted(set(positions))  # in log order, none twice
    statuses = _node_statuses(run_updates)
    rest = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=_headers(alice), timeout=10).json()
    assert len(statuses) == STEPS + 2 and set(statuses) == {node["node_id"] for node in rest["node_executions"]}
    for node, seen in statuses.items():
        assert seen[-1] == "COMPLETED", (node, seen)
        assert "RUNNING" in seen and "QUEUED" in seen
    # what the socket said last about each node is what the REST API says
    last = {m["data"]["node_exec_id"]: m["data"] for m in run_updates if m["method"] == "node_execution_event"}
    for node in rest["node_executions"]:
        assert last[node["node_exec_id"]]["output_data"] == node["output_data"]
        assert last[node["node_exec_id"]]["status"] == node["status"]
    data = run_updates[-1]["data"]
    assert data["event_type"] == "graph_execution_update"
    assert {"id", "user_id", "graph_id", "graph_version", "status", "started_at", "ended_at", "stats"} <= set(data)
    node_data = next(m["data"] for m in run_updates if m["method"] == "node_execution_event")
    assert set(node_data) >= {
        "event_type", "user_id", "graph_id", "graph_version", "graph_exec_id", "node_exec_id", "node_id",
        "block_id", "status", "input_data", "output_data", "add_time", "queue_time", "start_time", "end_time",
    }  # fmt: skip


def test_resume_after_a_forced_disconnect_mid_run_misses_and_repeats_nothing(
    served: tuple[str, dict[str, str], FakeHTTPServer],
) -> None:
    base, env, fake = served
    alice = token(env, "alice")
    graph_id = create_graph(base, _headers(alice), slow_chain(fake, STEPS, STEP_SECONDS))
    run_id = execute(base, _headers(alice), graph_id, {"start": {"n": 1}})
    before: list[dict[str, Any]] = []
    with open_socket(base, alice) as sock:
        send(sock, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": 0})
        assert receive(sock)["success"] is True
        while len(before) < 12:
            before.append(receive(sock))
        sock.close_socket()  # the network drops: no close handshake
    time.sleep(STEP_SECONDS * 2)  # the run goes on meanwhile
    with open_socket(base, alice) as again:
        send(again, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": before[-1]["position"]})
        assert receive(again)["success"] is True
        after = read_until_final(again)
    assert fake.hits(f"/slow-chain/{STEPS}") == 1
    with open_socket(base, alice) as reference_sock:  # the whole run, replayed once it ended
        send(reference_sock, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": 0})
        receive(reference_sock)
        reference = read_until_final(reference_sock)
    got, want = _updates_key(before + after), _updates_key(reference)
    differing = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    if differing is not None:
        Path("/tmp/live_diff.json").write_text(json.dumps([got[differing], want[differing]], indent=1))
    assert differing is None
    assert got == want
    assert not any(m["data"]["status"] == "COMPLETED" for m in before if m["method"] == "graph_execution_event")


def test_nothing_of_another_users_runs_ever_arrives(served: tuple[str, dict[str, str], FakeHTTPServer]) -> None:
    base, env, fake = served
    alice, bob = token(env, "alice"), token(env, "bob")
    alice_graph = create_graph(base, _headers(alice), slow_chain(fake, 4, 0.05, "alice chain"))
    bob_graph = create_graph(base, _headers(bob), slow_chain(fake, 4, 0.05, "bob chain"))
    with open_socket(base, bob) as sock:
        alice_run = execute(base, _headers(alice), alice_graph, {"start": {"n": 1}})
        # bob asks for alice's run and her graph's runs: no reply for the run, an ack for his own channel key
        send(sock, "subscribe_graph_execution", {"graph_exec_id": alice_run, "last_position": 0})
        send(sock, "subscribe_graph_executions", {"graph_id": alice_graph})
        assert receive(sock)["channel"] == f"bob|graph#{alice_graph}|executions"
        send(sock, "subscribe_graph_executions", {"graph_id": bob_graph})
        assert receive(sock)["success"] is True
        bob_run = execute(base, _headers(bob), bob_graph, {"start": {"n": 2}})
        second_alice = execute(base, _headers(alice), alice_graph, {"start": {"n": 3}})
        frames: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                frames.append(str(sock.recv(timeout=2)))
            except TimeoutError:
                break
    assert frames and any(bob_run in frame for frame in frames)
    for frame in frames:
        message = json.loads(frame)
        assert message["data"]["user_id"] == "bob"
        assert alice_run not in frame and second_alice not in frame and "alice" not in frame


def test_sse_streams_the_run_and_resumes_after_last_event_id(
    served: tuple[str, dict[str, str], FakeHTTPServer],
) -> None:
    base, env, fake = served
    alice, bob = token(env, "alice"), token(env, "bob")
    graph_id = create_graph(base, _headers(alice), slow_chain(fake, 4, 0.1))
    run_id = execute(base, _headers(alice), graph_id, {"start": {"n": 1}})
    url = f"{base}/api/executions/{run_id}/events"
    assert httpx.get(url, headers=_headers(bob), timeout=10).status_code == 404

    def stream(headers: dict[str, str]) -> list[tuple[int, str, dict[str, Any]]]:
        events = []
        with httpx.stream("GET", url, headers=headers, timeout=30) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            fields: dict[str, str] = {}
            for line in answer.iter_lines():
                if line.startswith(":"):
                    continue
                if not line:
                    if fields:
                        events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                    fields = {}
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
        return events

    everything = stream(_headers(alice))  # live while the run goes on, ends with the run
    assert everything[-1][1] == "graph_execution_event" and everything[-1][2]["data"]["status"] == "COMPLETED"
    ids = [event_id for event_id, _, _ in everything]
    assert ids == sorted(set(ids))
    middle = ids[len(ids) // 2]
    rest = stream({**_headers(alice), "Last-Event-ID": str(middle)})
    assert rest == [event for event in everything if event[0] > middle]
    assert stream({**_headers(alice), "Last-Event-ID": str(ids[-1])}) == []


def test_a_socket_that_sends_nothing_is_closed_after_the_idle_timeout(tmp_path: Path) -> None:
    with embedded_server(tmp_path, {"AGENTGRAPH_WS_IDLE_TIMEOUT_SECONDS": "1"}) as (base, env, _):
        sock = open_socket(base, token(env, "alice"))
        with sock, pytest.raises(ConnectionClosed) as closed:
            sock.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


def test_subscriptions_connections_and_message_size_are_bounded(tmp_path: Path) -> None:
    limits = {
        "AGENTGRAPH_WS_MAX_SUBSCRIPTIONS": "2",
        "AGENTGRAPH_WS_MAX_MESSAGE_BYTES": "1024",
        "AGENTGRAPH_WS_MAX_CONNECTIONS_PER_USER": "2",
    }
    with embedded_server(tmp_path, limits) as (base, env, _):
        with open_socket(base, token(env, "bob")), open_socket(base, token(env, "bob")):
            with open_socket(base, token(env, "bob")) as third, pytest.raises(ConnectionClosed) as refused:
                third.recv(timeout=10)
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 1013
            assert refused.value.rcvd.reason == "At most 2 connections per user"
            with open_socket(base, token(env, "carol")) as other:  # another user is not counted against bob
                send(other, "heartbeat", "ping")
                assert receive(other)["data"] == "pong"
        deadline = time.monotonic() + 10
        while "\nwebsocket_connections 0.0" not in httpx.get(f"{base}/metrics").text:  # the server saw them leave
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with open_socket(base, token(env, "bob")) as again:  # closing frees the places
            send(again, "heartbeat", "ping")
            assert receive(again)["data"] == "pong"
        sock = open_socket(base, token(env, "alice"))
        with sock:
            for n in range(2):
                send(sock, "subscribe_graph_executions", {"graph_id": f"0b0b0b0b-0000-4000-8000-00000000000{n}"})
                assert receive(sock)["success"] is True
            send(sock, "subscribe_graph_executions", {"graph_id": "0b0b0b0b-0000-4000-8000-000000000009"})
            assert receive(sock) == {
                "method": "error",
                "data": None,
                "success": False,
                "channel": None,
                "error": "At most 2 subscriptions per connection",
            }
            send(sock, "heartbeat", "x" * 2000)
            with pytest.raises(ConnectionClosed) as closed:
                sock.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
