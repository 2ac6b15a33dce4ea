"""The fan-out benchmark's clients, in a process of their own: N sockets on one graph's runs, timing each frame.

``python -m tests.benchmarks.fanout_clients BASE TOKEN GRAPH_ID CLIENTS RUNS``: opens CLIENTS
``/ws`` connections, subscribes each to the graph's runs, prints ``ready``,
then for every ``graph_execution_event`` that names the moment its event
was recorded (RUNNING: ``started_at``; COMPLETED: ``ended_at``) records
receive time minus that moment, until each client saw RUNS completed runs;
prints the latencies (seconds) as one JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime

import uvloop
from websockets.asyncio.client import connect


def _moment(data: dict[str, object]) -> float | None:
    field = {"RUNNING": "started_at", "COMPLETED": "ended_at"}.get(str(data.get("status")))
    value = data.get(field) if field else None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() if value else None


async def _client(url: str, graph_id: str, runs: int, latencies: list[float], ready: asyncio.Event) -> None:
    async with connect(url, open_timeout=60, max_size=None, ping_interval=None) as sock:
        await sock.send(json.dumps({"method": "subscribe_graph_executions", "data": {"graph_id": graph_id}}))
        await sock.recv()
        ready.set()
        completed = 0
        while completed < runs:
            message = json.loads(await sock.recv())
            received = time.time()
            if message.get("method") != "graph_execution_event":
                continue
            moment = _moment(message["data"])
            if moment is not None:
                latencies.append(received - moment)
            if message["data"]["status"] == "COMPLETED":
                completed += 1


async def main(base: str, token: str, graph_id: str, clients: int, runs: int) -> None:
    url = base.replace("http://", "ws://") + f"/ws?token={token}"
    latencies: list[float] = []
    readies = [asyncio.Event() for _ in range(clients)]
    tasks = []
    for ready in readies:  # connect in small waves: a thousand handshakes at once only measure the accept queue
        tasks.append(asyncio.create_task(_client(url, graph_id, runs, latencies, ready)))
        if len(tasks) % 50 == 0:
            await asyncio.gather(*(r.wait() for r in readies[: len(tasks)]))
    await asyncio.gather(*(r.wait() for r in readies))
    print("ready", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60 + runs * 5)
    print(json.dumps(latencies), flush=True)


if __name__ == "__main__":
    base, token, graph_id, clients, runs = sys.argv[1:6]
    uvloop.run(main(base, token, graph_id, int(clients), int(runs)))  # the clients' loop must not be the bottleneck
