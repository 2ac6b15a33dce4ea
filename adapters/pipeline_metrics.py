"""Figures of the event pipeline, for the metrics endpoint to publish.

Lag is always measured against the event store (the truth), never against
Kafka's end offsets (wrong on some brokers, and beside the point): relay lag
is the store's head minus the relay's position; projector lag is the head
minus the position a projection has applied (the furthest of its
partitions, per context).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from adapters.projection_runner import EventLog
from adapters.read_store import ReadStore
from projections.base import Projection


@dataclass
class Throughput:
    """A counter with a rate over its lifetime and the sizes of its batches."""

    total: int = 0
    batches: int = 0
    largest_batch: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, count: int) -> None:
        """Count one batch of ``count`` events."""
        with self._lock:
            self.total += count
            self.batches += 1
            self.largest_batch = max(self.largest_batch, count)

    @property
    def per_second(self) -> float:
        """Events per second since the counter started."""
        return self.total / max(time.monotonic() - self.started, 1e-9)

    @property
    def average_batch(self) -> float:
        """Mean events per batch."""
        return self.total / self.batches if self.batches else 0.0


def projector_lag(store: ReadStore, projections: list[Projection], logs: dict[str, EventLog]) -> dict[str, int]:
    """``"<projection>/<context>"`` -> events the projection has not applied yet."""
    lag: dict[str, int] = {}
    for projection in projections:
        applied = store.partition_positions(projection.name)
        for context in sorted(projection.contexts):
            done = max((v for (c, _), v in applied.items() if c == context), default=0)
            lag[f"{projection.name}/{context}"] = max(0, logs[context].head() - done)
    return lag


def relay_lag(positions: dict[str, int], logs: dict[str, EventLog]) -> dict[str, int]:
    """context -> events stored but not yet published."""
    return {context: max(0, log.head() - positions.get(context, 0)) for context, log in logs.items()}
