"""Figures of the event pipeline, for the metrics endpoint to publish.

Lag is always measured against the event store (the truth), never against
Kafka's end offsets (wrong on some brokers, and beside the point): relay lag
is the store's head minus the relay's position; projector lag is the head
minus the position a projection has applied (the furthest of its
partitions, per context).

``PipelineMetrics`` gathers what one process can see: every context's head,
the relay's recorded position (when the deployment has a relay), every
projection's applied position, and the throughput counters of the relay and
projector this process runs, if any.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from adapters.event_log import EventLog
from adapters.read_store import ReadStore
from adapters.throughput import Throughput, ThroughputFigures
from application.execution_writer import WriterStats
from projections.base import Projection


class ContextFigures(BaseModel):
    """One bounded context's log and how far the relay has published it."""

    head: int = Field(description="Position of the newest event in the context's event store (0 when empty)")
    relay_position: int | None = Field(
        description="Last position the relay published to Kafka; null when the deployment has no relay (no Kafka)"
    )
    relay_lag: int | None = Field(description="head - relay_position: events stored but not yet published; null too")


class ProjectionFigures(BaseModel):
    """How far one projection has applied one context's log."""

    applied: int = Field(description="Last log position applied (with Kafka: the furthest of its partitions)")
    lag: int = Field(description="head - applied: events in the store the projection has not applied yet")
    parked: int = Field(
        default=0,
        description="Events of this context the projection parked instead of applying (read.dead_letters: "
        "agentgraph projections dead-letters lists them, agentgraph projections retry re-applies them)",
    )


class RelayFigures(BaseModel):
    """The relay this process runs."""

    active: bool = Field(description="True while this relay holds the lock (only one relay publishes)")
    published: ThroughputFigures = Field(description="Events read from the event stores and acknowledged by Kafka")


class ProjectorFigures(BaseModel):
    """The projector this process runs: the Kafka consumer, or the in-process runner."""

    feed: Literal["kafka", "event_store"] = Field(
        description="Where its events come from: Kafka topics, or the event stores' logs directly (no Kafka)"
    )
    received: ThroughputFigures = Field(description="Events in: polled from Kafka or read from the logs")
    applied: ThroughputFigures = Field(
        description="Events out: applied to read models, once per projection they feed (redeliveries not counted)"
    )


class ExecutorFigures(BaseModel):
    """The executor this process runs: what its group commit wrote."""

    batches: int = Field(description="Transactions written")
    events: int = Field(description="Events written")
    largest_batch: int = Field(description="Events in the largest transaction")
    conflicts: int = Field(description="Runs whose pending events were refused (changed by another executor)")
    ledger_conflicts: int = Field(
        0, description="Credit charges written after a conflict (the user's ledger changed elsewhere: a top-up)"
    )
    failures: int = Field(description="Writes the database failed (each retried)")
    write_seconds: float = Field(description="Time spent writing")


class PipelineSnapshot(BaseModel):
    """The event pipeline's lag and throughput as one process sees it."""

    mode: Literal["embedded", "distributed"] = Field(
        description="embedded: SQLite files, one process; distributed: PostgreSQL (and Kafka when configured)"
    )
    contexts: dict[str, ContextFigures] = Field(
        description="Per bounded context (graphs, executions, accounts, store, schedules)"
    )
    projections: dict[str, dict[str, ProjectionFigures]] = Field(
        description="Per projection, per context it reads; from the read store, so true whichever process projects"
    )
    relay: RelayFigures | None = Field(description="This process's relay; null when it runs none")
    projector: ProjectorFigures | None = Field(description="This process's projector; null when it runs none")
    executor: ExecutorFigures | None = Field(
        default=None, description="This process's executor; null when it runs none"
    )


@dataclass(frozen=True)
class RelayCounters:
    """What a relay counts (``adapters.kafka_relay.Relay``)."""

    published: Throughput
    active: threading.Event


@dataclass(frozen=True)
class ProjectorCounters:
    """What a projector counts: events it takes in and event applications it writes."""

    feed: Literal["kafka", "event_store"]
    received: Throughput
    applied: Throughput


class PipelineMetrics:
    """Takes snapshots of the pipeline for one process (the composition root wires it)."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        logs: dict[str, EventLog],
        *,
        mode: Literal["embedded", "distributed"],
        relay_positions: Callable[[], dict[str, int]] | None = None,
        relay: RelayCounters | None = None,
        projector: ProjectorCounters | None = None,
        writer: WriterStats | None = None,
    ) -> None:
        self.store = store
        self.projections = list(projections)
        self.logs = logs
        self.mode = mode
        self.relay_positions = relay_positions
        self.relay = relay
        self.projector = projector
        self.writer = writer

    def snapshot(self) -> PipelineSnapshot:
        """The figures now: heads are read first, then positions (a position may pass its head meanwhile: lag 0)."""
        heads = {context: log.head() for context, log in sorted(self.logs.items())}
        published = self.relay_positions() if self.relay_positions is not None else None
        contexts: dict[str, ContextFigures] = {}
        for context, head in heads.items():
            position = published.get(context, 0) if published is not None else None
            contexts[context] = ContextFigures(
                head=head,
                relay_position=position,
                relay_lag=max(0, head - position) if position is not None else None,
            )
        projections: dict[str, dict[str, ProjectionFigures]] = {}
        parked = self.store.parked_counts()
        for projection in self.projections:
            applied = applied_positions(self.store, projection)
            projections[projection.name] = {
                context: ProjectionFigures(
                    applied=applied[context],
                    lag=max(0, heads[context] - applied[context]),
                    parked=parked.get((projection.name, context), 0),
                )
                for context in sorted(projection.contexts)
            }
        return PipelineSnapshot(
            mode=self.mode,
            contexts=contexts,
            projections=projections,
            relay=(
                RelayFigures(active=self.relay.active.is_set(), published=self.relay.published.figures())
                if self.relay is not None
                else None
            ),
            projector=(
                ProjectorFigures(
                    feed=self.projector.feed,
                    received=self.projector.received.figures(),
                    applied=self.projector.applied.figures(),
                )
                if self.projector is not None
                else None
            ),
            executor=self._executor(),
        )

    def _executor(self) -> ExecutorFigures | None:
        writer = self.writer
        if writer is None:
            return None
        return ExecutorFigures(
            batches=writer.batches,
            events=writer.events,
            largest_batch=writer.largest_batch,
            conflicts=writer.conflicts,
            ledger_conflicts=writer.ledger_conflicts,
            failures=writer.failures,
            write_seconds=writer.write_seconds,
        )


def applied_positions(store: ReadStore, projection: Projection) -> dict[str, int]:
    """context -> the last position ``projection`` applied (with Kafka, the furthest of its partitions)."""
    by_partition = store.partition_positions(projection.name)
    return {
        context: max((v for (c, _), v in by_partition.items() if c == context), default=0)
        for context in sorted(projection.contexts)
    }
