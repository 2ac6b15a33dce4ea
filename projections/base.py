"""Projections: event -> read-model change, one class per read model.

A projection declares its tables (with a comment for every table and
column, published in the database for analysts) and applies a batch of
envelopes inside one read-model transaction. It must be deterministic (a
function of the events only, never of the clock) so that a rebuild from the
event store equals the live tables row for row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from projections.envelope import EventEnvelope
from projections.store import ReadModelTx


@dataclass(frozen=True)
class Column:
    """A read-model column: ``kind`` is text, int, float, bool, json or timestamp."""

    name: str
    kind: str
    comment: str


@dataclass(frozen=True)
class Table:
    """A read-model table."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


class Projection(ABC):
    """Turns events of some contexts into rows of its own tables."""

    name: str
    contexts: frozenset[str]
    tables: tuple[Table, ...]

    @abstractmethod
    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply ``batch`` (in log order, already filtered to this projection's contexts)."""
