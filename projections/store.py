"""What projections and queries need from a read-model database (a port; adapters implement it).

Projection SQL is written once for SQLite and PostgreSQL: tables are named
through ``tx.t(name)`` (``read.<name>``: a schema in PostgreSQL, an attached
database in SQLite; shadow tables during a rebuild),
parameters are ``:name`` placeholders, upserts use ``ON CONFLICT``. JSON
values are passed through ``tx.json(value)`` so each database stores them in
its own JSON type. Many rows at once go through ``tx.upsert(table, rows)``,
which each database turns into its fastest bulk write (one ``unnest``
statement on PostgreSQL).

Non-finite floats (a division by zero's ``inf``) are stored in JSON as the
strings ``"Infinity"``, ``"-Infinity"`` and ``"NaN"``: JSON has no such
numbers (PostgreSQL refuses them), and the API writes them the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from domain.json_codec import decode
from projections.schema import Table


class ReadModelTx(Protocol):
    """One read-model transaction."""

    dialect: str
    """``"sqlite"`` or ``"postgresql"``."""

    def t(self, table: str) -> str:
        """The qualified name of ``table`` for this transaction (live or shadow)."""
        ...

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run one statement."""
        ...

    def executemany(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """Run one statement for many parameter sets."""
        ...

    def fetchone(self, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row, as a dict, or None."""
        ...

    def fetchall(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row, as dicts."""
        ...

    def json(self, value: Any) -> Any:
        """``value`` ready to be stored in a JSON column."""
        ...

    def upsert(self, table: Table, rows: Sequence[dict[str, Any]], *, replace: bool = True) -> None:
        """Write ``rows`` (plain values, JSON columns as Python objects) into ``table`` in one statement.

        A row whose primary key exists replaces it (``replace``) or is
        skipped (``replace=False``). The rows' primary keys must be distinct.
        """
        ...


class ReadSource(Protocol):
    """A read-model store, as queries read it."""

    def transaction(self, *, rebuild: bool = False) -> AbstractContextManager[ReadModelTx]:
        """A read-model transaction."""
        ...


def json_value(value: Any) -> Any:
    """A JSON column's value (SQLite hands back text, PostgreSQL parsed JSON)."""
    return decode(value) if isinstance(value, str) else value


def iso(value: Any) -> str | None:
    """A timestamp (column, or ISO text from an event) as ISO 8601 text, UTC written ``+00:00`` whatever the source."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.isoformat() if isinstance(value, datetime) else str(value)
