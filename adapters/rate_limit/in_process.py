"""The embedded mode's sliding window: the same behaviour as Redis, in this process's memory."""

from __future__ import annotations

import threading
import time
from collections import deque

from adapters.rate_limit.limiter import RateLimitDecision, decision

SWEEP_EVERY = 1_000
"""Requests between sweeps of keys whose windows emptied (memory stays bounded by active clients)."""


class InProcessSlidingWindow:
    """A ``RateLimiter`` for one process (no Redis): a deque of timestamps per key."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._hits = 0

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitDecision:
        """Count one request for ``key`` (never unavailable)."""
        now = time.time()
        with self._lock:
            window = self._windows.setdefault(f"{key}:{window_seconds}s", deque())
            while window and window[0] <= now - window_seconds:
                window.popleft()
            result = decision(len(window) + 1, limit, window[0] if window else now, now, window_seconds)
            if result.allowed:
                window.append(now)
            self._hits += 1
            if self._hits % SWEEP_EVERY == 0:
                self._sweep(now)
            return result

    def _sweep(self, now: float) -> None:
        # a window's entries are all older than its length once its newest is
        for name, window in list(self._windows.items()):
            length = float(name.rsplit(":", 1)[1].removesuffix("s"))
            if not window or window[-1] <= now - length:
                del self._windows[name]
