"""How the notifier's live updates reach the API processes that hold the sockets.

Embedded (no ``AGENTGRAPH_REDIS_URL``), ``InProcessLiveBus`` hands each
update to the listeners of this process. Distributed, ``RedisLiveBus``
publishes each update on one Redis pub/sub channel (``<AGENTGRAPH_REDIS_KEY_PREFIX>live``)
that every API process subscribes to and dispatches in memory to its
sockets (AutoGPT's v2 server pattern-subscribed to every execution channel
the same way). Pub/sub is fire and forget, as AutoGPT's bus: a publish that
fails is logged and dropped; a client that resumes by position gets what it
missed from the event store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Protocol

import redis
import redis.asyncio as aioredis

from domain.json_codec import decode, encode
from projections.executions.live import LiveUpdate

log = logging.getLogger(__name__)

Listener = Callable[[LiveUpdate], None]
"""Called in the listener's event loop with each update."""


class LiveBus(Protocol):
    """Publishes live updates (from any thread) to the listeners of every API process."""

    def publish(self, updates: list[LiveUpdate]) -> None:
        """Send ``updates`` in order (best effort)."""
        ...

    async def listen(self, listener: Listener) -> None:
        """Call ``listener`` in the running event loop with every update published from now on, until cancelled."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class InProcessLiveBus:
    """Updates to listeners of this process (the embedded platform)."""

    def __init__(self) -> None:
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._lock = threading.Lock()

    def publish(self, updates: list[LiveUpdate]) -> None:
        """Hand ``updates`` to each listener's loop, in order."""
        with self._lock:
            listeners = list(self._listeners)
        for loop, listener in listeners:
            with contextlib.suppress(RuntimeError):  # the listener's loop closed
                loop.call_soon_threadsafe(_deliver_all, listener, updates)

    async def listen(self, listener: Listener) -> None:
        """Receive until cancelled."""
        entry = (asyncio.get_running_loop(), listener)
        with self._lock:
            self._listeners.append(entry)
        try:
            await asyncio.Event().wait()
        finally:
            with self._lock:
                self._listeners.remove(entry)

    def close(self) -> None:
        """Nothing to release."""


def _deliver_all(listener: Listener, updates: list[LiveUpdate]) -> None:
    for update in updates:
        try:
            listener(update)
        except Exception:
            log.exception("a live update listener failed")


RECONNECT_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Back-off of a listener whose Redis connection failed (AutoGPT's 0.5 s -> 8 s)."""


class RedisLiveBus:
    """Updates over one Redis pub/sub channel, to every API process (the distributed platform)."""

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url)

    def publish(self, updates: list[LiveUpdate]) -> None:
        """Publish each update as one message (a failure is logged and the updates dropped)."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for update in updates:
                pipe.publish(self.channel, encode(update.as_json()))
            pipe.execute()
        except redis.RedisError as error:
            log.warning("publishing %d live update(s) to Redis failed: %s", len(updates), error)

    async def listen(self, listener: Listener) -> None:
        """Subscribe and dispatch until cancelled; reconnect with back-off when Redis fails."""
        failures = 0
        while True:
            client = aioredis.Redis.from_url(self._url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    failures = 0
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            update = LiveUpdate.from_json(decode(message["data"]))
                        except Exception:
                            log.warning("a live update from Redis does not decode: dropped")
                            continue
                        _deliver_all(listener, [update])
            except (redis.RedisError, OSError) as error:
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("the live updates' Redis subscription failed (%s): again in %.1f s", error, delay)
                await asyncio.sleep(delay)
            finally:
                await client.aclose()

    def close(self) -> None:
        """Close the publishing connection pool."""
        self._client.close()
