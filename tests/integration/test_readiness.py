"""``/ready`` through HTTP: 200 listing what it checked; 503 naming the backend that stopped answering.

PostgreSQL is "stopped" by closing a loopback TCP proxy the app reaches it
through: the machine's PostgreSQL, which others use, is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from adapters.settings import Settings
from api.app import create_app
from api.composition import build_container


class TCPProxy:
    """Forwards loopback connections to ``upstream``; ``close`` cuts every connection and stops listening."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _through(dsn: str, port: int) -> str:
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        userinfo = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"))
    return make_conninfo(dsn, host="127.0.0.1", port=str(port))


@pytest.fixture
def proxy(postgres_dsn: str) -> Iterator[TCPProxy]:
    params = conninfo_to_dict(postgres_dsn) if not postgres_dsn.startswith("postgres") else {}
    if postgres_dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(postgres_dsn)
        upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
    else:
        upstream = (str(params.get("host", "127.0.0.1")), int(str(params.get("port") or 5432)))
    tcp = TCPProxy(upstream)
    yield tcp
    tcp.close()


def test_ready_names_postgresql_when_it_stops_answering(proxy: TCPProxy, postgres_dsn: str, tmp_path: Path) -> None:
    settings = Settings(
        AGENTGRAPH_DATABASE_URL=_through(postgres_dsn, proxy.port),
        JWT_VERIFY_KEY="readiness-test-key-" + "k" * 32,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
        AGENTGRAPH_READY_TIMEOUT_SECONDS=2.0,
    )
    container = build_container(settings)
    try:
        with TestClient(create_app(container)) as client:
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "checks": {"event_stores": "ok", "read_database": "ok"}}

            proxy.close()
            down = client.get("/ready")
            assert down.status_code == 503
            body = down.json()
            assert body["code"] == "not_ready"
            assert "event_stores" in body["detail"] and "read_database" in body["detail"]
            assert body["checks"]["event_stores"].startswith("failed")
            assert body["checks"]["read_database"].startswith("failed")
            assert str(proxy.port) not in down.text  # no connection details in the answer
            assert client.get("/health").status_code == 200  # liveness asks no backend
    finally:
        container.close()


def test_ready_embedded_checks_what_it_uses(tmp_path: Path, redis_url: str) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data", AGENTGRAPH_REDIS_URL=redis_url))
    try:
        with TestClient(create_app(container)) as client:
            ready = client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"event_stores": "ok", "read_database": "ok", "redis": "ok"}
    finally:
        container.close()
