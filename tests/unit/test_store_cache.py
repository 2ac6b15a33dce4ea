"""The store cache answers from the read model when Redis fails, and caches nothing without Redis."""

from __future__ import annotations

import asyncio
import socket

from adapters.redis_client import redis_client
from adapters.store_cache import StoreCache
from projections.executions.models import Pagination


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _page() -> Pagination:
    return Pagination(total_items=1, total_pages=1, current_page=1, page_size=20)


def test_a_redis_outage_answers_from_the_read_model() -> None:
    cache = StoreCache(redis_client(f"redis://127.0.0.1:{_closed_port()}/0"), "test:")
    calls: list[str] = []

    def compute() -> Pagination:
        calls.append("read model")
        return _page()

    answer = asyncio.run(cache.answer(Pagination, "agents", {"page": 1}, lambda: 7, compute))
    assert answer == _page() and calls == ["read model"]


def test_without_redis_every_answer_is_read() -> None:
    cache = StoreCache(None, "test:")
    calls: list[str] = []
    for _ in range(2):
        asyncio.run(cache.answer(Pagination, "agents", {}, lambda: 0, lambda: calls.append("read") or _page()))
    assert calls == ["read", "read"]
