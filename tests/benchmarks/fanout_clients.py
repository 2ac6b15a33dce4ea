"""The fan-out benchmark's clients, in a process of their own: N sockets on one graph's runs, timing each frame.

``python -m tests.benchmarks.fanout_clients BASE TOKEN GRAPH_ID CLIENTS RUNS``: opens CLIENTS
``/ws`` connections, subscribes each to the graph's runs, prints ``ready``,
then for every ``graph_execution_event`` that names the moment its event
was recorded (RUNNING: ``started_at``; COMPLETED: ``ended_at``) records
receive time minus that moment, until each client saw RUNS completed runs;
prints the latencies (seconds) as one JSON list.

Each socket is an ``asyncio.Protocol`` driving websockets' sans-I/O client:
a frame is timed the moment its bytes come off the socket, before it is
parsed, and a frame costs this process a few microseconds. A client built
on a full WebSocket library costs tens of microseconds per message, so a
thousand sockets receiving one update each took this process as long as the
server took to send them, and the figures measured the load generator as
much as the server.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime
from typing import cast
from urllib.parse import urlsplit

import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri


def _moment(data: dict[str, object]) -> float | None:
    field = {"RUNNING": "started_at", "COMPLETED": "ended_at"}.get(str(data.get("status")))
    value = data.get(field) if field else None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() if value else None


class _Client(asyncio.Protocol):
    """One socket: handshake, one subscription, then every frame timed on arrival."""

    def __init__(self, url: str, graph_id: str, runs: int, latencies: list[float]) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.graph_id = graph_id
        self.runs = runs
        self.latencies = latencies
        self.completed = 0
        self.ready = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self.ws.send_request(self.ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        received = time.time()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                subscribe = {"method": "subscribe_graph_executions", "data": {"graph_id": self.graph_id}}
                self.ws.send_text(json.dumps(subscribe).encode())
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._frame(json.loads(event.data), received)
        self._flush()  # the subscribe, and pongs the protocol answers by itself

    def _frame(self, message: dict[str, object], received: float) -> None:
        if not self.ready.done():  # the subscribe's ack
            self.ready.set_result(None)
            return
        data = message.get("data")
        if message.get("method") != "graph_execution_event" or not isinstance(data, dict):
            return
        moment = _moment(data)
        if moment is not None:
            self.latencies.append(received - moment)
        if data.get("status") == "COMPLETED":
            self.completed += 1
            if self.completed >= self.runs and not self.done.done():
                self.done.set_result(None)

    def _flush(self) -> None:
        if self.transport is not None:
            for chunk in self.ws.data_to_send():
                if chunk:
                    self.transport.write(chunk)

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.ready, self.done):
            if not future.done():
                future.set_exception(exc or ConnectionError("the server closed the socket"))


async def main(base: str, token: str, graph_id: str, clients: int, runs: int) -> None:
    url = base.replace("http://", "ws://") + f"/ws?token={token}"
    host, port = urlsplit(url).hostname, urlsplit(url).port
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    sockets: list[_Client] = []
    # connect in small waves: a thousand handshakes at once only measure the accept queue
    for wave in range(0, clients, 50):
        batch = [_Client(url, graph_id, runs, latencies) for _ in range(min(50, clients - wave))]
        await asyncio.gather(*(loop.create_connection(lambda c=c: c, host, port) for c in batch))
        await asyncio.wait_for(asyncio.gather(*(c.ready for c in batch)), timeout=60)
        sockets += batch
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*(c.done for c in sockets)), timeout=60 + runs * 5)
    print(json.dumps(latencies), flush=True)


if __name__ == "__main__":
    base, token, graph_id, clients, runs = sys.argv[1:6]
    uvloop.run(main(base, token, graph_id, int(clients), int(runs)))  # the clients' loop must not be the bottleneck
