"""The store's answers cached in Redis (distributed mode only; embedded mode has no cache).

A cached answer is keyed by the store read model's generation
(``read.store_generation``: the number of store events, counted runs and
graph deletions applied, bumped in the same transaction as the change), so
an answer cached before a commit is never served after it: a reader that sees the commit reads the new generation and
misses. An admin's approval answers once the read model applied it
(``api.routers.store``), so the store shows the listing to anyone who asks
after the admin is told. Every run moves the generation too (its count may
change a listing's ``runs``): correct, at the cost of fewer hits while runs
are frequent. Redis errors are logged and the answer is read from the read model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 60
"""How long a cached store answer lives (older generations' keys expire on their own)."""

CACHE_FORMAT = 1
"""Part of every key: bumped when the answers' shape changes, so a deploy never reads the old shape."""

_M = TypeVar("_M", bound=BaseModel)


class StoreCache:
    """Store answers by (generation, query), in Redis when there is one."""

    def __init__(self, redis: aioredis.Redis | None, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}store:v{CACHE_FORMAT}:"

    async def answer(
        self,
        model: type[_M],
        query: str,
        params: dict[str, Any],
        generation: Callable[[], int],
        compute: Callable[[], _M | None],
    ) -> _M | None:
        """``compute()`` (run in a thread), cached under the current generation; None answers are not cached."""
        if self._redis is None:
            return await asyncio.to_thread(compute)
        current = await asyncio.to_thread(generation)
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]
        key = f"{self._prefix}{current}:{query}:{digest}"
        try:
            cached = await self._redis.get(key)
        except RedisError as error:
            log.warning("store cache read failed (%s): answering from the read model", error)
            cached = None
        if cached is not None:
            return model.model_validate_json(cached)
        value = await asyncio.to_thread(compute)
        if value is not None:
            try:
                await self._redis.set(key, value.model_dump_json(), ex=CACHE_TTL_SECONDS)
            except RedisError as error:
                log.warning("store cache write failed (%s)", error)
        return value
