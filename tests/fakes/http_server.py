"""A real local HTTP server for SendWebRequest and executor tests.

It listens on 127.0.0.1 on a free port, in a background thread, and answers
any method on any path. By default it echoes the request as JSON::

    {"method": "POST", "path": "/x", "query": "a=1", "headers": {...},
     "body": "<request body as text>", "json": <body parsed as JSON, or null>}

Per path (the URL path without its query) a test can set a delay, a status
(the echo is still sent, except for 204/304 and HEAD, which have no body), a
canned response or a redirect; hits are counted per path as requests arrive,
so a test can see a request that is still being delayed. ``stop`` returns at
once even while delayed requests are in flight (they are dropped).

Use the ``fake_http`` fixture (``tests.fakes.http_server.fake_http``)::

    fake_http.delay("/slow", 5.0)
    fake_http.status("/missing", 404)
    fake_http.respond("/text", body="plain", content_type="text/plain")
    fake_http.redirect("/old", "/new")
    url = fake_http.url("/slow")
    assert fake_http.hits("/slow") == 1
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fakes.threaded_server import FakeServerThread

_NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    client_port: int
    """The client's port: two requests with the same port came over one connection."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class CannedResponse:
    """A fixed response for one path."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def setup(self) -> None:
        if self.server.fake.keep_alive:
            self.protocol_version = "HTTP/1.1"  # answers keep the connection open
        super().setup()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path or "/",
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_port=self.client_address[1],
        )
        fake = self.server.fake
        delay, response = fake._arrive(request)
        if delay > 0 and fake._stopping.wait(delay):
            return  # shutting down: drop the connection instead of answering
        self._send(request, response)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def _send(self, request: RecordedRequest, response: CannedResponse) -> None:
        body = response.body
        if request.method == "HEAD" or response.status in _NO_BODY_STATUSES:
            body = b""
        try:
            self.send_response(response.status)
            if response.content_type is not None:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.status not in _NO_BODY_STATUSES:
                self.send_header("Content-Length", str(len(response.body if request.method == "HEAD" else body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout)


@dataclass
class FakeHTTPServer(FakeServerThread):
    """A local HTTP server with per-path behaviour (see the module docstring)."""

    host: str = "127.0.0.1"
    keep_alive: bool = False
    """Answer as HTTP/1.1 and keep connections open (HTTP/1.0 by default: one request per connection)."""
    thread_name = "fake-http"
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _hits: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _requests: list[RecordedRequest] = field(default_factory=list, init=False, repr=False)
    _delays: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _statuses: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _canned: dict[str, CannedResponse] = field(default_factory=dict, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _httpd: _Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # --- what a test reads --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The full URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def hits(self, path: str) -> int:
        """How many requests for ``path`` (query ignored) have arrived so far."""
        with self._lock:
            return self._hits[path]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order of arrival (a copy)."""
        with self._lock:
            return list(self._requests)

    # --- what a test configures ---------------------------------------------------------------

    def delay(self, path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering requests for ``path``."""
        with self._lock:
            self._delays[path] = seconds

    def status(self, path: str, code: int) -> None:
        """Answer ``path`` with this status (the echo body is kept)."""
        with self._lock:
            self._statuses[path] = code

    def respond(
        self,
        path: str,
        *,
        status: int = 200,
        body: str | bytes | Any = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``path`` with a fixed response.

        ``body`` as bytes or str is sent as is (``text/plain`` unless told);
        anything else is sent as JSON (``application/json``).
        """
        if isinstance(body, bytes):
            data, default_type = body, "application/octet-stream"
        elif isinstance(body, str):
            data, default_type = body.encode(), "text/plain; charset=utf-8"
        else:
            data, default_type = json.dumps(body).encode(), "application/json"
        canned = CannedResponse(status, data, content_type or default_type, dict(headers or {}))
        with self._lock:
            self._canned[path] = canned

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location``."""
        with self._lock:
            self._canned[path] = CannedResponse(status, b"", None, {"Location": location})

    def reset(self) -> None:
        """Forget hits, requests and every per-path setting."""
        with self._lock:
            self._hits.clear()
            self._requests.clear()
            self._delays.clear()
            self._statuses.clear()
            self._canned.clear()

    # --- answering ----------------------------------------------------------------------------

    def _arrive(self, request: RecordedRequest) -> tuple[float, CannedResponse]:
        with self._lock:
            self._hits[request.path] += 1
            self._requests.append(request)
            delay = self._delays.get(request.path, 0.0)
            canned = self._canned.get(request.path)
            status = self._statuses.get(request.path)
        if canned is not None:
            return delay, canned
        try:
            parsed = json.loads(request.body) if request.body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        echo = {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": request.headers,
            "body": request.text,
            "json": parsed,
        }
        return delay, CannedResponse(status or 200, json.dumps(echo).encode(), "application/json")


@pytest.fixture
def fake_http() -> Iterator[FakeHTTPServer]:
    """A fresh fake HTTP server for one test."""
    with FakeHTTPServer() as server:
        yield server


FakeHTTPServer.handler = _Handler
FakeHTTPServer.server_class = _Server
