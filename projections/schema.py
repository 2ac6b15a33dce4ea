"""How a projection declares its read-model tables.

Every table and column carries a comment, published in the database for
analysts. Both the projections (which write the tables) and the read-model
store (which creates them and writes rows in bulk) use these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
