"""The Redis sliding window, as autogpt_libs keeps it: one sorted set per key, scored by time.

One pipelined round trip per request: ZREMRANGEBYSCORE drops what left the
window, ZADD counts this request, ZCARD counts the window, ZRANGE reads the
oldest entry (for ``X-RateLimit-Reset`` and ``Retry-After``), EXPIRE lets an
idle key vanish. A refused request is taken out again (a second round trip,
only when refusing), so a client hammering a full window is let in again
once its oldest accepted request ages out, as ``Retry-After`` promises.
"""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from adapters.rate_limit.limiter import RateLimitDecision, RateLimiterUnavailableError, decision


class RedisSlidingWindow:
    """A ``RateLimiter`` shared by every API process through Redis."""

    def __init__(self, client: aioredis.Redis, key_prefix: str = "agentgraph:") -> None:
        self.client = client
        self.key_prefix = key_prefix

    def redis_key(self, key: str, window_seconds: int) -> str:
        """The sorted set of ``key`` (AutoGPT's ``ratelimit:{key}:1min`` under our prefix)."""
        return f"{self.key_prefix}ratelimit:{key}:{window_seconds}s"

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one request; ``RateLimiterUnavailableError`` when Redis fails or is slow."""
        redis_key = self.redis_key(key, window_seconds)
        now = time.time()
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"  # unique: two requests in the same microsecond both count
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.zremrangebyscore(redis_key, 0, now - window_seconds)
                pipe.zadd(redis_key, {member: now})
                pipe.zcard(redis_key)
                pipe.zrange(redis_key, 0, 0, withscores=True)
                pipe.expire(redis_key, window_seconds + 1)
                _, _, count, oldest, _ = await pipe.execute()
            result = decision(int(count), limit, float(oldest[0][1]) if oldest else now, now, window_seconds)
            if not result.allowed:
                await self.client.zrem(redis_key, member)
            return result
        except (RedisError, OSError, TimeoutError) as exc:
            raise RateLimiterUnavailableError(f"{type(exc).__name__}: {exc}") from exc
