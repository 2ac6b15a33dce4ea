"""The side effect of the peer benchmark: a local HTTP server that counts the calls it answers.

It runs in its own process (``python -m tests.benchmarks.counting_server PORT``),
so its work does not share the interpreter lock with the system being
measured. A ``POST`` to any path is a call: it is counted and answered with
``{"calls": <count so far>}`` (JSON, so the next step of a chain can send it
on as its body). A ``GET`` (``/calls``, or ``/health`` while starting) reads
the count without changing it.

uvicorn serves a bare ASGI callable: no framework between the socket and the
counter, so the server adds as little as it can to each call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from tests.serving import free_port, wait_until_healthy

Message = MutableMapping[str, Any]


class CountingApp:
    """The ASGI application: counts every ``POST``."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(
        self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass  # the body is not needed, only read
        if scope["method"] == "POST":
            self.calls += 1
        body = json.dumps({"calls": self.calls}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class CountingServer:
    """A running counting server: where to call it and how many calls it answered."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/call"

    def calls(self) -> int:
        """How many calls the server has answered so far."""
        return int(httpx.get(f"{self.base}/calls", timeout=10).json()["calls"])


@contextmanager
def counting_server() -> Iterator[CountingServer]:
    """Start the server in its own process on a free loopback port; stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", __name__, str(port)])
    try:
        server = CountingServer(port)
        wait_until_healthy(server.base, lambda: proc.poll() is None, lambda: "the counting server exited")
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    uvicorn.run(
        CountingApp(), host="127.0.0.1", port=int(sys.argv[1]), lifespan="off", access_log=False, log_level="warning"
    )
