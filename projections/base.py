"""Projections: event -> read-model change, one class per read model.

A projection declares its tables (``projections.schema``), the event types
it handles and those of its contexts it ignores on purpose, and applies a
batch of envelopes inside one read-model transaction. It must be
deterministic (a function of the events only, never of the clock) so that a
rebuild from the event store equals the live tables row for row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.event_types import EventType
from projections.envelope import EventEnvelope
from projections.schema import Table
from projections.store import ReadModelTx


class Projection(ABC):
    """Turns events of some contexts into rows of its own tables."""

    name: str
    contexts: frozenset[str]
    tables: tuple[Table, ...]
    handles: frozenset[EventType]
    """Event types of its contexts that change its tables."""
    ignores: frozenset[EventType]
    """Event types of its contexts it leaves out on purpose (every other one must be handled)."""

    @abstractmethod
    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply ``batch`` (in log order, already filtered to this projection's contexts)."""
