"""Live updates in the distributed mode: PostgreSQL event store, a notifier process publishing through the real
Redis, the socket held by a separate API process (which runs no notifier of its own when Redis is set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from tests.fakes.http_server import FakeHTTPServer
from tests.integration.test_role_processes import Processes
from tests.live import create_graph, execute, open_socket, read_until_final, receive, reply_to, send, slow_chain

pytestmark = pytest.mark.integration

KEY = "live-test-" + "k" * 40


@pytest.fixture
def env(postgres_dsn: str, redis_url: str, redis_key_prefix: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in ("JWT_VERIFY_KEY", "JWT_ALGORITHM")},
        "AGENTGRAPH_DATABASE_URL": postgres_dsn,
        "AGENTGRAPH_REDIS_URL": redis_url,
        "AGENTGRAPH_REDIS_KEY_PREFIX": redis_key_prefix,
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_HTTP_ALLOW_PRIVATE_NETWORKS": "true",
        "JWT_VERIFY_KEY": KEY,
        "COLUMNS": "400",
    }


def test_a_run_reaches_the_socket_through_the_notifier_and_redis_and_resumes(
    env: dict[str, str], processes: Processes, redis_url: str
) -> None:
    init = subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "init"], env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    processes.start("notifier", env)
    processes.wait_for_line("notifier", "running: notifier")
    base = processes.serve("api,projector,executor", env)
    alice = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", "alice"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {alice}"}

    # what travels on the Redis channel (the API process has no notifier: everything comes this way)
    on_redis: list[dict[str, object]] = []
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(f"{env['AGENTGRAPH_REDIS_KEY_PREFIX']}live")
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = listener.get_message(timeout=0.2)
            if message and message["type"] == "message":
                on_redis.append(json.loads(message["data"]))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        with FakeHTTPServer() as fake:
            graph_id = create_graph(base, headers, slow_chain(fake, 8, 0.15))
            with open_socket(base, alice) as sock:
                send(sock, "subscribe_graph_executions", {"graph_id": graph_id})
                assert receive(sock)["success"] is True
                run_id = execute(base, headers, graph_id, {"start": {"n": 1}})
                first = receive(sock, timeout=30)  # live, from the notifier process through Redis
                assert first["method"] == "graph_execution_event" and first["data"]["id"] == run_id
                send(sock, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": 0})
                ack, _ = reply_to(sock, "subscribe_graph_execution")
                before = []
                while len(before) < 6:
                    message = receive(sock, timeout=30)
                    if message["channel"] == ack["channel"]:
                        before.append(message)
                sock.close_socket()
            with open_socket(base, alice) as again:
                send(
                    again,
                    "subscribe_graph_execution",
                    {"graph_exec_id": run_id, "last_position": before[-1]["position"]},
                )
                assert receive(again)["success"] is True
                after = read_until_final(again)
            with open_socket(base, alice) as whole:
                send(whole, "subscribe_graph_execution", {"graph_exec_id": run_id, "last_position": 0})
                receive(whole)
                reference = read_until_final(whole)
        assert [m["position"] for m in before + after] == [m["position"] for m in reference]
        assert [m["data"] for m in before + after] == [m["data"] for m in reference]
        assert reference[-1]["data"]["status"] == "COMPLETED"
        deadline = time.monotonic() + 10
        while not any(u.get("final") for u in on_redis) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert {u["position"] for u in on_redis} >= {m["position"] for m in reference}
    finally:
        stop.set()
        thread.join()
        listener.close()
