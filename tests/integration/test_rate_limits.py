"""Rate limits through HTTP against the real Redis (and the embedded in-process limiter).

Each test gets its own Redis key prefix (``redis_key_prefix``), so tests and
other users of the same Redis never share a window.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
import redis
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import AUDIENCE, mint_token
from api.composition import Container, build_container
from tests.serving import free_port

Client = Callable[..., TestClient]
LIMITED = "/api/blocks"
_KEY = {"name": "limits", "description": "", "permissions": ["IDENTITY"]}


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Client]:
    """``make_client(limit, redis_url=..., prefix=..., groups=..., client=(ip, port))`` -> a running TestClient."""
    opened: list[tuple[TestClient, Container]] = []

    def make(
        limit: int = 5,
        *,
        redis_url: str | None = None,
        prefix: str = "agentgraph:",
        groups: dict[str, int] | None = None,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> TestClient:
        settings: dict[str, Any] = {
            "AGENTGRAPH_DATA_DIR": tmp_path / f"data{len(opened)}",
            "AGENTGRAPH_RATE_LIMIT_PER_MINUTE": limit,
            "AGENTGRAPH_RATE_LIMITS": groups or {},
            "AGENTGRAPH_REDIS_URL": redis_url,
            "AGENTGRAPH_REDIS_KEY_PREFIX": prefix,
        }
        container = build_container(Settings(**settings))
        test_client = TestClient(create_app(container, run_projector=True), client=client)
        test_client.__enter__()
        opened.append((test_client, container))
        return test_client

    yield make
    for test_client, container in opened:
        test_client.__exit__(None, None, None)
        container.close()


def _bearer(client: TestClient, user: str) -> dict[str, str]:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {mint_token(container.jwt, user)}"}


def _burst(client: TestClient, count: int, headers: dict[str, str] | None = None, path: str = LIMITED) -> list[Any]:
    return [client.get(path, headers=headers or {}) for _ in range(count)]


def _assert_burst_limited(
    client: TestClient, limit: int, headers: dict[str, str] | None = None, answered: int = 200, path: str = LIMITED
) -> Any:
    """``limit`` requests answered ``answered`` (401 without a user: limited all the same), then a 429."""
    before = time.time()
    answers = _burst(client, limit + 1, headers, path)
    for sent, answer in enumerate(answers[:limit], start=1):
        assert answer.status_code == answered, answer.text
        assert answer.headers["X-RateLimit-Limit"] == str(limit)
        assert answer.headers["X-RateLimit-Remaining"] == str(limit - sent)
        assert before + 59 <= int(answer.headers["X-RateLimit-Reset"]) <= time.time() + 61
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = refused.json()
    assert body["code"] == "rate_limited" and body["limit"] == limit and "Rate limit exceeded" in body["detail"]
    assert refused.headers["X-Content-Type-Options"] == "nosniff"  # the security headers still apply
    return refused


def test_headers_and_429_under_a_burst(make_client: Client, redis_url: str, redis_key_prefix: str) -> None:
    client = make_client(5, redis_url=redis_url, prefix=redis_key_prefix)
    _assert_burst_limited(client, 5, _bearer(client, "alice"))
    # refused requests are not counted: the window holds exactly the accepted ones
    keys = redis.Redis.from_url(redis_url).keys(redis_key_prefix + "*")
    assert len(keys) == 1
    assert redis.Redis.from_url(redis_url).zcard(keys[0]) == 5
    # a 429 is answered before routing, yet counted under its route's template
    metrics = client.get("/metrics").text
    assert 'http_requests_total{endpoint="/api/blocks",method="GET",status="429"} 1.0' in metrics


def test_users_keys_and_addresses_are_counted_apart(make_client: Client, redis_url: str, redis_key_prefix: str) -> None:
    client = make_client(3, redis_url=redis_url, prefix=redis_key_prefix)
    _assert_burst_limited(client, 3, _bearer(client, "alice"))
    assert client.get(LIMITED, headers=_bearer(client, "bob")).headers["X-RateLimit-Remaining"] == "2"
    # a real key: its first request counts against the address (not yet verified here), the next ones against the key
    raw_key = client.post("/api/api-keys", headers=_bearer(client, "carol"), json=_KEY).json()["plain_text_key"]
    first = client.get("/external-api/v1/me", headers={"X-API-Key": raw_key})
    assert first.status_code == 200 and first.headers["X-RateLimit-Remaining"] == "2"  # the address's window
    _assert_burst_limited(client, 3, {"X-API-Key": raw_key}, path="/external-api/v1/me")
    # keys nobody verified count against the address, however many values are tried: no fresh window per value
    guesses = [client.get(LIMITED, headers={"X-API-Key": f"agpt_guess{n}" + "x" * 40}) for n in range(3)]
    assert [g.status_code for g in guesses] == [401, 401, 429]
    other_address = make_client(3, redis_url=redis_url, prefix=redis_key_prefix, client=("10.1.2.3", 4000))
    assert other_address.get(LIMITED).headers["X-RateLimit-Remaining"] == "2"
    # nothing secret in Redis: no API key, user ids only hashed
    keys = redis.Redis.from_url(redis_url, decode_responses=True).keys(redis_key_prefix + "*")
    assert len(keys) == 6  # alice, bob, carol, the key, the address, the other address
    assert not any(raw_key in key or "alice" in key or "bob" in key or "carol" in key for key in keys)


def test_a_forged_token_cannot_spend_another_users_budget(
    make_client: Client, redis_url: str, redis_key_prefix: str
) -> None:
    client = make_client(3, redis_url=redis_url, prefix=redis_key_prefix)
    forged = pyjwt.encode({"sub": "alice", "aud": AUDIENCE}, "not-the-servers-key-" * 3, algorithm="HS256")
    answers = _burst(client, 5, {"Authorization": f"Bearer {forged}"})
    assert [a.status_code for a in answers] == [401, 401, 401, 429, 429]  # counted by address
    assert client.get(LIMITED, headers=_bearer(client, "alice")).status_code == 200


def test_route_groups_have_their_own_limits(make_client: Client, redis_url: str, redis_key_prefix: str) -> None:
    client = make_client(4, redis_url=redis_url, prefix=redis_key_prefix, groups={"/api/blocks": 2, "/api/graphs": 0})
    alice = _bearer(client, "alice")
    _assert_burst_limited(client, 2, alice)
    graphs = _burst(client, 6, alice, "/api/graphs")
    assert {a.status_code for a in graphs} == {200} and "X-RateLimit-Limit" not in graphs[0].headers
    assert client.get("/api/executions", headers=alice).headers["X-RateLimit-Limit"] == "4"


@pytest.mark.parametrize("redis_configured", [True, False], ids=["redis", "in-process"])
def test_probes_metrics_and_documents_are_never_limited(
    make_client: Client, redis_url: str, redis_key_prefix: str, redis_configured: bool
) -> None:
    client = make_client(1, redis_url=redis_url if redis_configured else None, prefix=redis_key_prefix)
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/docs"):
        for _ in range(3):
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert "X-RateLimit-Limit" not in answer.headers


def test_the_in_process_limiter_behaves_the_same(make_client: Client) -> None:
    client = make_client(3)
    assert client.app.state.container.redis is None  # type: ignore[attr-defined]
    _assert_burst_limited(client, 3, _bearer(client, "alice"))
    assert client.get(LIMITED, headers=_bearer(client, "bob")).headers["X-RateLimit-Remaining"] == "2"
    _assert_burst_limited(client, 3, answered=401)  # anonymous: by address


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on a free port (killed by the test, or at the end)."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.2).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("the throwaway redis-server did not start")
            time.sleep(0.05)
    yield url, server
    server.kill()
    server.wait()


def _fail_opens(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("rate_limit_fail_open_total "):
            return float(line.split()[1])
    raise AssertionError("rate_limit_fail_open_total missing")


def test_requests_pass_when_redis_is_down(
    make_client: Client, throwaway_redis: tuple[str, subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    url, server = throwaway_redis
    client = make_client(3, redis_url=url)
    alice = _bearer(client, "alice")
    assert client.get(LIMITED, headers=alice).headers["X-RateLimit-Remaining"] == "2"

    server.kill()
    server.wait()
    caplog.set_level(logging.WARNING, logger="api.rate_limit")
    started = time.monotonic()
    answers = _burst(client, 10, alice)
    assert [a.status_code for a in answers] == [200] * 10  # more than the limit, all through: fail open
    assert "X-RateLimit-Limit" not in answers[0].headers
    assert time.monotonic() - started < 5  # short timeouts: the outage does not slow requests down
    warnings = [r for r in caplog.records if r.name == "api.rate_limit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert _fail_opens(client) == 10
    ready = client.get("/ready")
    assert ready.status_code == 503 and "redis" in ready.json()["detail"]
