"""Projections: event -> read-model change, one class per read model.

A projection declares its tables (``projections.schema``), the event types
it handles and those of its contexts it ignores on purpose, and applies a
batch of envelopes inside one read-model transaction. It must be
deterministic (a function of the events only, never of the clock) so that a
rebuild from the event store equals the live tables row for row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.event_types import EventType, context_event_types, type_name
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


class UnaccountedEventTypeError(TypeError):
    """A projection neither handles nor ignores an event type its contexts record."""


def accounted_for(projection: Projection) -> Projection:
    """``projection``, once it accounts for every event type its contexts record (else the error says which).

    Called when the registry builds the projections, so a new event type
    that a read model does not know stops every process at start (and the
    test suite), never a read model silently at run time.
    """
    declared = {event_type for context in projection.contexts for event_type in context_event_types(context)}
    problems = []
    if unaccounted := declared - projection.handles - projection.ignores:
        problems.append(f"neither handles nor ignores {sorted(map(type_name, unaccounted))}")
    if both := projection.handles & projection.ignores:
        problems.append(f"both handles and ignores {sorted(map(type_name, both))}")
    if stale := (projection.handles | projection.ignores) - declared:
        problems.append(f"names event types its contexts never record: {sorted(map(type_name, stale))}")
    if problems:
        raise UnaccountedEventTypeError(f"projection {projection.name} " + "; ".join(problems))
    return projection
