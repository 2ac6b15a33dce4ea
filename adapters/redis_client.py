"""The one Redis client factory of the platform (rate limits now; pub/sub and locks later).

Timeouts are short on purpose: Redis sits on the request path (the rate
limiter), and a Redis outage must cost a request a fraction of a second,
never the operating system's TCP timeout. Callers that block on Redis by
design (a pub/sub listener) pass their own ``socket_timeout``.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

CONNECT_TIMEOUT_SECONDS = 0.25
"""How long opening a connection may take before Redis counts as unavailable."""

COMMAND_TIMEOUT_SECONDS = 0.25
"""How long one command (or one pipelined round trip) may take."""


def redis_client(url: str, **overrides: Any) -> aioredis.Redis:
    """An asyncio Redis client for ``url`` (``redis://host:port/db``), connecting lazily.

    No retries: the caller decides what an unavailable Redis means (the rate
    limiter lets requests through). ``overrides`` are passed to redis-py.
    """
    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": COMMAND_TIMEOUT_SECONDS,
        "retry_on_timeout": False,
        "health_check_interval": 0,
        "decode_responses": False,
    }
    options.update(overrides)
    return aioredis.Redis.from_url(url, **options)
