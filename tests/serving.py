"""Starting ``agentgraph serve`` as a real process in a test: a free port, the environment, waiting for health."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base: str, alive: Callable[[], bool], log: Callable[[], str], timeout: float = 30.0) -> None:
    """Poll ``base``/health until it answers 200; fail with the server's log if it died or took too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not alive() or time.monotonic() > deadline:
            raise AssertionError("serve did not come up:\n" + log())
        time.sleep(0.1)


@contextmanager
def embedded_server(
    tmp_path: Path, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    """``agentgraph serve`` (every role, SQLite in ``tmp_path``) on a free port: (base URL, its env, the process).

    ``settings`` are extra environment variables (``AGENTGRAPH_NODE_TIMEOUT_SECONDS`` ...).
    """
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("JWT_VERIFY_KEY", "AGENTGRAPH_DATABASE_URL")},
        "AGENTGRAPH_DATA_DIR": str(tmp_path / "data"),
        "AGENTGRAPH_PORT": str(port),
        **(settings or {}),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base, lambda: proc.poll() is None, log_path.read_text)
            yield base, env, proc
        finally:
            proc.terminate()
            proc.wait(timeout=10)


class Processes:
    """``agentgraph serve --role ROLE`` processes, each with its log; all stopped (SIGTERM) at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--role", role],
            env=env,
            stdout=self.log(role).open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.started[role] = process
        return process

    def serve(self, role: str, env: dict[str, str], timeout: float = 60) -> str:
        """Start ``role`` (one that serves the API) on a free port; its base URL once ``/health`` answers."""
        port = free_port()
        process = self.start(role, {**env, "AGENTGRAPH_PORT": str(port)})
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, lambda: process.poll() is None, self.logs, timeout=timeout)
        return base

    def log(self, role: str) -> Path:
        return self.tmp_path / f"{role}.log"

    def logs(self) -> str:
        return "\n".join(f"--- {role}\n{self.log(role).read_text()}" for role in self.started)

    def wait_for_line(self, role: str, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(role).read_text():
            assert self.started[role].poll() is None, f"{role} exited:\n{self.logs()}"
            assert time.monotonic() < deadline, f"{role} never logged {text!r}:\n{self.logs()}"
            time.sleep(0.1)

    def stop_all(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for process in self.started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for role, process in self.started.items():
            try:
                codes[role] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[role] = None
        return codes
