"""Proof that ``redis_url`` / ``redis_key_prefix`` give a test a real, isolated Redis namespace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

pytestmark = pytest.mark.integration

# prefixes handed out so far in this session
_seen_prefixes: list[str] = []


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        yield c
    finally:
        c.close()


def test_transactional_pipeline_round_trip(client: redis.Redis, redis_key_prefix: str) -> None:
    p = redis_key_prefix
    with client.pipeline(transaction=True) as pipe:
        pipe.set(p + "name", "agentgraph")
        pipe.incrby(p + "counter", 5)
        pipe.incrby(p + "counter", 2)
        pipe.rpush(p + "queue", "a", "b", "c")
        pipe.hset(p + "hash", mapping={"x": "1", "y": "2"})
        pipe.lrange(p + "queue", 0, -1)
        pipe.get(p + "name")
        pipe.hgetall(p + "hash")
        results = pipe.execute()

    assert results == [
        True,
        5,
        7,
        3,
        2,
        [b"a", b"b", b"c"],
        b"agentgraph",
        {b"x": b"1", b"y": b"2"},
    ]
    # the writes are visible outside the transaction too
    assert client.get(p + "counter") == b"7"
    assert client.llen(p + "queue") == 3


def test_watch_detects_a_concurrent_write(client: redis.Redis, redis_url: str, redis_key_prefix: str) -> None:
    key = redis_key_prefix + "balance"
    client.set(key, 10)
    other = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.watch(key)
            current = int(pipe.get(key) or 0)
            other.set(key, 100)  # someone else writes between WATCH and EXEC
            pipe.multi()
            pipe.set(key, current - 1)
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        other.close()
    assert client.get(key) == b"100"


@pytest.mark.parametrize("run", [1, 2])
def test_prefix_isolates_tests(client: redis.Redis, redis_key_prefix: str, run: int) -> None:
    assert redis_key_prefix.startswith("test:") and redis_key_prefix.endswith(":")
    assert redis_key_prefix not in _seen_prefixes
    # nothing under a fresh prefix
    assert list(client.scan_iter(match=redis_key_prefix + "*")) == []

    client.mset({redis_key_prefix + "a": "1", redis_key_prefix + "b": "2"})
    assert sorted(client.scan_iter(match=redis_key_prefix + "*")) == [
        (redis_key_prefix + "a").encode(),
        (redis_key_prefix + "b").encode(),
    ]
    # keys of earlier tests were cleaned up
    for earlier in _seen_prefixes:
        assert list(client.scan_iter(match=earlier + "*")) == []
    _seen_prefixes.append(redis_key_prefix)
