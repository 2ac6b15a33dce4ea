"""Read-your-writes: consistency tokens between commands and queries.

Every command response carries a token naming the log position(s) it
produced: header ``X-Consistency-Token`` and body field
``consistency_token``, e.g. ``graphs:42`` or ``graphs:42;executions:7``;
with Kafka the partition the write went to is named too (``graphs:42:3``). A
query that sends it back (same header, or ``?consistency_token=``) waits
until the read model it reads has applied those positions, at most
``AGENTGRAPH_CONSISTENCY_WAIT_SECONDS`` (5 s); then it answers with what it
has and the header ``X-Consistency-Stale: true``.

A token naming a position the log has not reached is no write anyone made
(a command answers only after its commit): it is refused at once with 400
``consistency_token_ahead`` instead of holding a worker thread for the wait.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from adapters.event_log import EventLog
from adapters.kafka_topics import partition_for
from api.composition import Container, ContainerDep, event_stores
from application.results import Written

TOKEN_HEADER = "X-Consistency-Token"
STALE_HEADER = "X-Consistency-Stale"


Positions = dict[str, tuple[int, int | None]]
"""context -> (log position, Kafka partition or None)."""


def encode_token(positions: Positions) -> str:
    """``{"graphs": (42, None)}`` -> ``"graphs:42"``; with a partition ``"graphs:42:3"``."""
    parts = []
    for context, (position, partition) in sorted(positions.items()):
        parts.append(f"{context}:{position}" + (f":{partition}" if partition is not None else ""))
    return ";".join(parts)


def decode_token(token: str) -> Positions:
    """The positions a token names; 400 for a malformed token."""
    positions: Positions = {}
    try:
        for part in filter(None, token.split(";")):
            fields = part.split(":")
            if len(fields) not in (2, 3):
                raise ValueError(part)
            partition = int(fields[2]) if len(fields) == 3 else None
            positions[fields[0].strip()] = (int(fields[1]), partition)
    except ValueError:
        raise HTTPException(
            status_code=400, detail=f"Malformed consistency token {token!r}: expected 'context:position[;...]'"
        ) from None
    return positions


def token_for(container: Container, context: str, written: Written) -> str | None:
    """The token naming what a command wrote in ``context`` (None when it wrote nothing)."""
    if written.position is None:
        return None
    settings = container.settings
    partition = None
    if settings.kafka_bootstrap:  # Kafka keys events by aggregate: the token names the partition too
        partition = partition_for(str(written.aggregate_id), settings.kafka_partitions)
    return encode_token({context: (written.position, partition)})


def answer_with_token(response: Response, token: str | None) -> str | None:
    """Put the token in the response header too; returns it for the body."""
    if token is not None:
        response.headers[TOKEN_HEADER] = token
    return token


class TokenAheadError(HTTPException):
    """400: the token names a position past the head of its log."""

    code = "consistency_token_ahead"

    def __init__(self, ahead: Positions, heads: dict[str, int]) -> None:
        named = ", ".join(f"{c}:{p} (the log ends at {heads[c]})" for c, (p, _) in sorted(ahead.items()))
        super().__init__(status_code=400, detail=f"Consistency token names positions no write produced: {named}")


def refuse_ahead(container: Container, positions: Positions) -> None:
    """Raise ``TokenAheadError`` when a position is past the head of its context's log.

    Only the logs this process reads are checked: an ``api-queries`` process has no graphs
    event store, so a graphs token ahead of the log just waits out its time and answers stale.
    """
    stores = event_stores(container)
    heads = {c: EventLog(c, stores[c]).head() for c in positions if c in stores}
    ahead = {c: p for c, p in positions.items() if c in heads and p[0] > heads[c]}
    if ahead:
        raise TokenAheadError(ahead, heads)


def wait_for(container: Container, projection: str, positions: Positions, timeout: float) -> bool:
    """Poll the read store until ``projection`` applied ``positions``; False on timeout."""
    deadline = time.monotonic() + timeout
    store = container.read_store
    while True:
        if all(store.has_applied(projection, c, pos, part) for c, (pos, part) in positions.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _honour(container: Container, response: Response, projection: str, contexts: frozenset[str], token: str) -> None:
    """Wait (up to the configured time) until ``token``'s positions are applied; mark the answer stale if not."""
    positions = {c: p for c, p in decode_token(token).items() if c in contexts}
    if not positions or wait_for(container, projection, positions, timeout=0):
        return
    refuse_ahead(container, positions)
    if not wait_for(container, projection, positions, container.settings.consistency_wait_seconds):
        response.headers[STALE_HEADER] = "true"


def consistent(projection: str, contexts: frozenset[str]) -> Callable[..., Awaitable[None]]:
    """A dependency: honour a client's consistency token before reading ``projection``."""

    async def dependency(
        request: Request,
        response: Response,
        container: ContainerDep,
        token_header: Annotated[str | None, Header(alias=TOKEN_HEADER)] = None,
        consistency_token: Annotated[
            str | None, Query(description="A token from a command response: wait until it is visible")
        ] = None,
    ) -> None:
        # async, so a read without a token (most reads) costs no thread hand-off; waiting polls the read store
        # (blocking I/O and sleeps), so it runs in the thread pool
        token = consistency_token or token_header
        if token:
            await run_in_threadpool(_honour, container, response, projection, contexts, token)

    return dependency


GraphsConsistent = Depends(consistent("graphs", frozenset({"graphs"})))
RunsConsistent = Depends(consistent("executions", frozenset({"executions"})))
ApiKeysConsistent = Depends(consistent("api_keys", frozenset({"accounts"})))
