"""What every answer carries: the seeds' security headers, its request id, CORS when configured, no traceback."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adapters.settings import Settings
from api.app import create_app
from api.auth import mint_token
from api.composition import Container, build_container
from api.request_context import MAX_LENGTH, RequestIdLogFilter, serve_log_config
from application import command_metadata
from domain.json_codec import MAX_JSON_BYTES
from tests.unit.api.conftest import AuthHeaders
from tests.unit.api.graph_samples import calculator

SEEDS_SECURITY_HEADERS = {  # /work/shared/autogpt/API.md, seed 004
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "content-security-policy": "default-src 'self'",
    "referrer-policy": "strict-origin-when-cross-origin",
}
ORIGIN = "https://app.example.com"


def _boom() -> None:
    raise RuntimeError("secret internals at /srv/app.py line 42")


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """``start(**settings)`` -> (client, container) of an API with those settings and a route that fails."""
    opened: list[tuple[TestClient, Container]] = []

    def started(**env: Any) -> tuple[TestClient, Container]:
        container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / f"data{len(opened)}", **env))
        app: FastAPI = create_app(container)
        app.add_api_route("/boom", _boom)
        client = TestClient(app)
        client.__enter__()
        opened.append((client, container))
        return client, container

    yield started
    for client, container in opened:
        client.__exit__(None, None, None)
        container.close()


def _assert_seeds_headers(response: Any) -> None:
    assert {name: response.headers.get(name) for name in SEEDS_SECURITY_HEADERS} == SEEDS_SECURITY_HEADERS


def test_every_kind_of_answer_carries_the_security_headers_and_the_request_id(start: Any, auth: AuthHeaders) -> None:
    client, _ = start(AGENTGRAPH_RATE_LIMIT_PER_MINUTE=3, AGENTGRAPH_MAX_BODY_BYTES=MAX_JSON_BYTES)
    alice = auth("alice")  # the conftest's container: another key, so its tokens are 401 here
    answers = {
        "200": client.get("/health"),
        "401": client.get("/api/graphs", headers=alice),
        "404": client.get("/no/such/route"),
        "405": client.delete("/health"),
        "413": client.post("/api/graphs", content=b"x" * (MAX_JSON_BYTES + 1), headers={"X-Request-ID": "big"}),
        "500": client.get("/boom", headers={"X-Request-ID": "boom-1"}),
    }
    client.get("/api/graphs")
    answers["429"] = client.get("/api/graphs")
    for expected, response in answers.items():
        assert str(response.status_code) == expected, (expected, response.text)
        _assert_seeds_headers(response)
        assert response.headers["x-request-id"], expected
        if expected != "200":
            body = response.json()
            assert set(body) >= {"detail", "code"}, body
    assert answers["413"].headers["x-request-id"] == "big"
    assert answers["500"].headers["x-request-id"] == "boom-1"
    assert answers["500"].json() == {"detail": "Internal server error", "code": "internal_error"}
    assert "secret internals" not in answers["500"].text and "Traceback" not in answers["500"].text


def test_the_docs_page_keeps_its_assets_but_the_other_headers(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers  # the page loads its scripts from a CDN
    assert response.headers["x-frame-options"] == "DENY"


def test_a_request_id_is_echoed_and_recorded_with_the_events_it_causes(
    client: TestClient, container: Container, auth: AuthHeaders
) -> None:
    created = client.post("/api/graphs", json={"graph": calculator()}, headers={**auth(), "X-Request-ID": "abc"})
    assert created.status_code == 200, created.text
    assert created.headers["x-request-id"] == "abc"
    graph_id = created.json()["id"]
    events = [e for e in container.event_logs["graphs"].read(after=0, limit=1000) if e.aggregate_id == graph_id]
    assert events and all(event.metadata == {"user_id": "alice", "request_id": "abc"} for event in events)


def test_a_websocket_handshake_echoes_its_request_id(client: TestClient, container: Container) -> None:
    token = mint_token(container.jwt, "alice")
    with client.websocket_connect(f"/ws?token={token}", headers={"X-Request-ID": "ws-1"}) as socket:
        assert dict(socket.extra_headers or [])[b"x-request-id"] == b"ws-1"


@pytest.mark.parametrize(
    "sent",
    [None, "x" * (MAX_LENGTH + 1), "two words", "new\\nline", "ünïcode".encode(), ""],
)
def test_a_missing_or_insane_request_id_is_replaced_by_a_fresh_one(
    client: TestClient, container: Container, auth: AuthHeaders, sent: str | bytes | None
) -> None:
    headers: dict[str, Any] = auth() if sent is None else {**auth(), "X-Request-ID": sent}
    created = client.post("/api/graphs", json={"graph": calculator()}, headers=headers)
    request_id = created.headers["x-request-id"]
    assert request_id != sent and len(request_id) == 32 and int(request_id, 16) >= 0  # uuid4 hex
    assert client.get("/health").headers["x-request-id"] != request_id  # one per request
    events = container.event_logs["graphs"].read(after=0, limit=1000)
    assert [event.metadata["request_id"] for event in events] == [request_id] * len(events)


def test_log_records_of_a_request_name_its_id(start: Any, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = start()
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        client.get("/boom", headers={"X-Request-ID": "log-me"})
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert record.request_id == "log-me"  # type: ignore[attr-defined]
    assert record.exc_info is not None  # the traceback is logged, never answered
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "outside", None, None)
    RequestIdLogFilter().filter(outside)
    assert outside.request_id == "-"  # type: ignore[attr-defined]
    with command_metadata.acting(request_id="r9"):
        RequestIdLogFilter().filter(outside)
    assert outside.request_id == "r9"  # type: ignore[attr-defined]


def test_the_serve_log_config_prints_the_request_id() -> None:
    config = serve_log_config()
    assert "%(request_id)s" in config["formatters"]["default"]["fmt"]
    assert "%(request_id)s" in config["formatters"]["access"]["fmt"]
    assert all(handler["filters"] == ["request_id"] for handler in config["handlers"].values())
    logging.config.dictConfig({**config, "disable_existing_loggers": False})  # a valid configuration


def test_without_allowed_origins_there_are_no_cors_headers(client: TestClient) -> None:
    preflight = client.options("/api/graphs", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert not [name for name in preflight.headers if name.startswith("access-control-")]
    simple = client.get("/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_answers_allowed_origins_only(start: Any) -> None:
    client, _ = start(AGENTGRAPH_CORS_ALLOWED_ORIGINS=f"{ORIGIN}, https://other.example.com")
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = client.options("/api/graphs", headers={"Origin": ORIGIN, **ask})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["x-request-id"]

    refused = client.options("/api/graphs", headers={"Origin": "https://evil.example.com", **ask})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers

    simple = client.get("/health", headers={"Origin": ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    other = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers
