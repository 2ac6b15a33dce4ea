"""What a rate limiter answers, whichever store keeps the windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of counting one request against one key's window."""

    allowed: bool
    limit: int
    remaining: int
    """Requests left in the window after this one (0 when refused)."""
    reset_at: int
    """Unix time (seconds, rounded up) at which the oldest request counted leaves the window."""
    retry_after: int
    """Seconds to wait before a request can pass again (0 when allowed)."""


class RateLimiterUnavailableError(Exception):
    """The limiter's store did not answer in time; the caller decides (the API fails open)."""


class RateLimiter(Protocol):
    """A sliding window per key: at most ``limit`` requests in any ``window_seconds``."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one request for ``key``; refused requests are not counted (they do not extend a lock-out)."""
        ...


def decision(count: int, limit: int, oldest: float, now: float, window_seconds: int) -> RateLimitDecision:
    """The decision for a window holding ``count`` requests (this one included), the oldest at ``oldest``."""
    frees_at = oldest + window_seconds
    allowed = count <= limit
    return RateLimitDecision(
        allowed=allowed,
        limit=limit,
        remaining=max(0, limit - count),
        reset_at=int(-(-frees_at // 1)),
        retry_after=0 if allowed else max(1, int(-(-(frees_at - now) // 1))),
    )
