"""Live updates in an API process: the hub fed by the live bus, and the in-process notifier when embedded.

Where the notifier runs (a decision the issue leaves open):
- with ``AGENTGRAPH_REDIS_URL`` (distributed), the notifier is its own role,
  ``agentgraph serve --role notifier`` (``api.bootstrap.ROLES``): one process
  follows the executions log and publishes through Redis pub/sub; every API
  process subscribes and pushes to the sockets it holds. Scaling the API
  never multiplies the reads of the log;
- without Redis (embedded, or a deployment without it) there is no way
  between processes, so each API process runs a notifier of its own, in
  process, publishing to its own sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from adapters.event_log import EventLog
from adapters.live_bus import LiveBus, RedisLiveBus
from adapters.notifier import Notifier
from api.composition import Container
from api.live_hub import LiveHub


def build_hub(container: Container) -> LiveHub:
    """The hub of this API process; it replays runs from the executions event store."""
    return LiveHub(EventLog("executions", container.executions).history)


def build_live_bus(container: Container) -> LiveBus:
    """Redis pub/sub when ``AGENTGRAPH_REDIS_URL`` is set, else this process only (the container's bus)."""
    settings = container.settings
    if settings.redis_url:
        return RedisLiveBus(settings.redis_url, settings.live_channel)
    return container.in_process_bus


@contextlib.asynccontextmanager
async def run_live_updates(container: Container, hub: LiveHub) -> AsyncIterator[None]:
    """Feed ``hub`` while the app runs (with an in-process notifier when there is no Redis)."""
    bus = build_live_bus(container)
    listener = asyncio.create_task(bus.listen(hub.deliver), name="live-updates")
    await asyncio.sleep(0)  # the listener is registered before the notifier publishes anything
    notifier = None if container.settings.redis_url else Notifier(EventLog("executions", container.executions), bus)
    try:
        if notifier is not None:
            await notifier.start()
        yield
    finally:
        if notifier is not None:
            await notifier.stop()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        bus.close()
