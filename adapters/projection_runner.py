"""Feeds projections from the event stores' notification logs, in process.

The embedded platform (and a deployment on PostgreSQL without Kafka) keeps
its read models current with this runner: one ``LogFollower`` per context
that some projection reads applies each batch to every projection of that
context, each in its own read-model transaction with its position. It
resumes from the positions stored with the read models, and sleeps until a
commit wakes it (``adapters.log_follower``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence

from adapters.event_log import EventLog
from adapters.log_follower import LogFollower
from adapters.read_store import ReadStore
from adapters.read_store.store import EventNotAppliedError
from adapters.throughput import Throughput
from projections.base import Projection
from projections.envelope import EventEnvelope


class ProjectionRunner:
    """Follows every context's log and keeps the projections current."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        logs: dict[str, EventLog],
        *,
        batch_size: int = 1000,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        # for the metrics endpoint: events read from the logs, and applied (once per projection they feed)
        self.received = Throughput()
        self.projected = Throughput()
        self.committed: Callable[[list[EventEnvelope]], None] | None = None
        """Called with each batch once every projection committed it (the notifications' push)."""
        self._followers = [
            LogFollower(
                event_log,
                functools.partial(self._apply, context),
                start=functools.partial(self._start_position, context),
                batch_size=batch_size,
                name=f"projections-{context}",
            )
            for context, event_log in logs.items()
            if any(context in p.contexts for p in self.projections)
        ]

    async def start(self) -> None:
        """Start following the logs (each in its own thread)."""
        for follower in self._followers:
            follower.start()

    async def close(self) -> None:
        """Stop following (the batches being applied are finished first)."""
        for follower in self._followers:
            follower.request_stop()
        for follower in self._followers:
            await asyncio.to_thread(follower.join)

    async def until_applied(self, heads: dict[str, int], timeout: float = 30.0) -> None:
        """Wait (the runner started) until every projection applied each of its contexts up to ``heads``."""
        async with asyncio.timeout(timeout):
            while not all(
                self.store.positions(p.name).get(context, 0) >= head
                for p in self.projections
                for context, head in heads.items()
                if context in p.contexts
            ):
                await asyncio.sleep(0.01)

    async def catch_up(self, timeout: float = 30.0) -> None:
        """Start, apply what the logs hold now, stop: a one-off catch-up (``agentgraph agents export``)."""
        heads = {follower.log.context: follower.log.head() for follower in self._followers}
        await self.start()
        try:
            await self.until_applied(heads, timeout)
        finally:
            await self.close()

    def lag(self, context: str) -> int:
        """Events of ``context``'s log stored but not yet applied to the read models (0 if none follows it)."""
        for follower in self._followers:
            if follower.log.context == context:
                return max(0, follower.log.head() - follower.position)
        return 0

    def _start_position(self, context: str) -> int:
        interested = [p for p in self.projections if context in p.contexts]
        return min((self.store.positions(p.name).get(context, 0) for p in interested), default=0)

    def _apply(self, context: str, batch: list[EventEnvelope]) -> None:
        """Apply ``batch`` to every projection of ``context``, each in its own transaction with its position.

        A projection that fails on an event does not keep the others from
        trying it: each counts its failures in the same attempts, so they park
        a poison event together (after the retries' 0.2 s and 0.4 s) instead of
        one after the other with a back-off that keeps doubling, which would
        hold every later event of the log for seconds. The first failure is
        raised once all were tried: the follower retries the batch, and the
        projections that applied it skip it by their positions.
        """
        self.received.add(len(batch))
        applied = 0
        failed: list[EventNotAppliedError] = []
        for projection in self.projections:
            if context in projection.contexts:
                try:
                    applied += self.store.apply(projection, context, batch)
                except EventNotAppliedError as error:
                    failed.append(error)
        self.projected.add(applied)
        if failed:
            raise failed[0]
        if self.committed is not None:
            self.committed(batch)
