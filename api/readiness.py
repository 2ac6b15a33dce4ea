"""``/ready``: is every backend this process uses answering, each within a short timeout.

Only what this process uses is checked: the event stores it built (all, or
the two an ``api-queries`` process reads), the read database (when it built
it), Redis (when configured), and Kafka (when it runs a role that consumes
or produces, with Kafka configured). Kafka is checked by opening a TCP connection to each bootstrap
server: cheap, and what a consumer needs first; a full metadata round trip
would cost a client per probe. Each check runs in a thread with
``AGENTGRAPH_READY_TIMEOUT_SECONDS``, all at once, so a hung database makes
the probe answer 503 within that time, never hang. The threads are a small
pool of the checks' own: a check that outlives its timeout (a database
client retrying its connection) keeps a probe thread busy, never one the
rest of the app (``asyncio.to_thread``) needs, and later probes queue
behind it instead of piling up threads.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from adapters.event_log import EventLog
from api.composition import Container, Part, event_stores

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]


def readiness_checks(container: Container, *, uses_kafka: bool) -> dict[str, Check]:
    """name -> check, for the backends ``container`` (and the roles of its process) use."""
    checks: dict[str, Check] = {}
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="ready-check")

    def _in_thread(check: Callable[[], object]) -> Check:
        async def run() -> None:
            await asyncio.get_running_loop().run_in_executor(pool, check)

        return run

    stores = event_stores(container)
    if stores:

        def event_stores_answer() -> None:
            for context, app in stores.items():
                EventLog(context, app).head()

        checks["event_stores"] = _in_thread(event_stores_answer)
    if Part.READ_STORE in container.parts:
        checks["read_database"] = _in_thread(lambda: container.read_store.positions("graphs"))
    redis = container.redis
    if redis is not None:

        async def ping_redis() -> None:
            await redis.ping()

        checks["redis"] = ping_redis
    bootstrap = container.settings.kafka_bootstrap
    if uses_kafka and bootstrap:
        checks["kafka"] = _in_thread(lambda: _kafka_reachable(bootstrap, container.settings.ready_timeout_seconds))
    return checks


def _kafka_reachable(bootstrap: str, timeout: float) -> None:
    """Raise unless at least one bootstrap server accepts a TCP connection."""
    errors: list[str] = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port or 9092)), timeout=timeout):
                return
        except (OSError, ValueError) as exc:
            errors.append(f"{server.strip()}: {exc}")
    raise ConnectionError("; ".join(errors) or "no bootstrap server")


async def run_checks(checks: dict[str, Check], timeout: float) -> dict[str, str]:
    """name -> ``"ok"`` or ``"failed: <why>"``, every check at once, each given ``timeout`` seconds."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            return f"failed: no answer within {timeout:g} s"
        except Exception as exc:
            # the exception's type only: its message may name hosts or users; the log has it whole
            log.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
            return f"failed: {type(exc).__name__}"
        return "ok"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))
