"""A throughput counter that the pipeline's workers keep and the metrics endpoint reads.

The relay counts what it published, the projectors what they received and
applied; ``adapters.pipeline_metrics`` publishes the figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, Field


class ThroughputFigures(BaseModel):
    """One counter's figures since its process started."""

    events: int = Field(description="Events counted since the process started")
    events_per_second: float = Field(description="Events per second since the process started")
    batches: int = Field(description="Batches counted")
    average_batch: float = Field(description="Mean events per batch (0 before the first batch)")
    largest_batch: int = Field(description="Events in the largest batch")


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

    def figures(self) -> ThroughputFigures:
        """A consistent copy of the counter (another thread may be adding)."""
        with self._lock:
            return ThroughputFigures(
                events=self.total,
                events_per_second=self.per_second,
                batches=self.batches,
                average_batch=self.average_batch,
                largest_batch=self.largest_batch,
            )
