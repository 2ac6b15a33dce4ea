"""The in-process sliding window over time (the clock is the test's): refusals, Retry-After, the window sliding."""

from __future__ import annotations

import pytest

from adapters.rate_limit import in_process
from adapters.rate_limit.in_process import InProcessSlidingWindow


async def test_the_window_slides(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000.0]
    monkeypatch.setattr(in_process.time, "time", lambda: now[0])
    limiter = InProcessSlidingWindow()
    assert (await limiter.hit("alice", 2, 60)).remaining == 1
    now[0] += 10
    assert (await limiter.hit("alice", 2, 60)).remaining == 0
    now[0] += 5
    refused = await limiter.hit("alice", 2, 60)
    assert (refused.allowed, refused.retry_after, refused.reset_at) == (False, 45, 1_060)
    now[0] += 44
    assert not (await limiter.hit("alice", 2, 60)).allowed  # refusals were not counted: same Retry-After point
    now[0] += 1.5  # the first request left the window
    passed = await limiter.hit("alice", 2, 60)
    assert (passed.allowed, passed.remaining, passed.reset_at) == (True, 0, 1_070)
    assert (await limiter.hit("bob", 2, 60)).remaining == 1
