"""An open-loop HTTP load generator, run as its own process by ``test_api_latency``.

``python -m tests.benchmarks.open_loop_client PLAN.json RESULT.json``

The plan names the server, the rate, the warm-up and measured seconds, and a
list of requests (``route`` label, ``method``, ``path``, optional ``json``
body, ``headers``). Request ``i`` is due at ``start + i / rate`` and is sent
at that time whatever the earlier requests are doing (each one its own task):
the schedule never waits for an answer, so a slow server sees its queue grow
and its queueing counts in the latency (no coordinated omission). Latency is
measured from the time a request was *due*, not the time it left, so a late
client (its own loop lagging) is charged too and never flatters the server.

Requests are taken from the plan's list in turn, cycling. The result file
holds one ``[route, latency_ms, status, warm_up]`` row per request and the
client's own view of how late its sends were (``send_lag_ms`` p99), which says
whether the client itself kept up.

The client is aiohttp: its connector hands out an idle keep-alive connection
in constant time. httpx's pool scans every open connection for each request,
so once a slow moment had opened a few hundred connections the client burnt
the CPU the server needed (on two cores) and turned a hiccup into a collapse.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop


async def _one(
    client: aiohttp.ClientSession, request: dict[str, Any], due: float, warm: bool, rows: list[list[Any]]
) -> None:
    try:
        async with client.request(
            request["method"], request["path"], json=request.get("json"), headers=request.get("headers")
        ) as response:
            await response.read()
            status: int | str = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        status = type(error).__name__
    rows.append([request["route"], (time.perf_counter() - due) * 1000, status, warm])


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    """Send the plan's requests on schedule; return every request's latency and the send lags."""
    rate = float(plan["rate"])
    warm_up, seconds = float(plan["warm_up_seconds"]), float(plan["seconds"])
    requests: list[dict[str, Any]] = plan["requests"]
    total = int((warm_up + seconds) * rate)
    rows: list[list[Any]] = []
    lags: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    # enough connections that the client never queues a request behind another (the server's queue is measured)
    connector = aiohttp.TCPConnector(limit=2000, limit_per_host=2000)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(plan["base"], connector=connector, timeout=timeout) as client:
        start = time.perf_counter() + 0.2
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append((time.perf_counter() - due) * 1000)
            task = asyncio.create_task(_one(client, requests[i % len(requests)], due, i < warm_up * rate, rows))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    lags.sort()
    return {"rows": rows, "send_lag_p99_ms": lags[int(0.99 * (len(lags) - 1))] if lags else 0.0}


def main() -> None:
    """Read the plan, run it, write the result."""
    plan = json.loads(Path(sys.argv[1]).read_text())
    result = uvloop.run(run(plan))  # the load must not be what limits the figures: the faster loop
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
