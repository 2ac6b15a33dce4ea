"""The read store's SQL dialect layer: read-model SQL compiled for each database by SQLAlchemy Core.

Projection SQL is written once, with ``:name`` parameters (``projections.store``);
SQLAlchemy's ``text()`` compiles it to the driver's style (sqlite3 takes
``:name`` as it is; psycopg takes ``%(name)s``, with literal ``%`` doubled).
Tables, indexes, comments and bulk upserts are SQLAlchemy Core constructs
built from the projections' table declarations, so identifiers and comment
texts are quoted by SQLAlchemy. Statements run on our own connections:
sqlite3 for SQLite, the psycopg pool for PostgreSQL.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.types.array import ListBinaryDumper
from psycopg.types.json import Jsonb
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable, SetColumnComment, SetTableComment

from domain.json_codec import encode
from projections.schema import Table

SCHEMA = "read"
"""Where the read models live: a PostgreSQL schema, an attached database in SQLite."""

_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "int": sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
    "float": sa.Double().with_variant(sa.REAL(), "sqlite"),
    "bool": sa.Boolean(),
    # SQLite keeps JSON and timestamps as TEXT: a declared JSON type would get NUMERIC affinity there
    "json": sa.Text().with_variant(postgresql.JSONB(), "postgresql"),
    "timestamp": sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql"),
}
_ARRAYS: dict[str, sa.types.TypeEngine[Any]] = {
    "text": postgresql.ARRAY(sa.Text()),
    "int": postgresql.ARRAY(sa.BigInteger()),
    "float": postgresql.ARRAY(sa.Double()),
    "bool": postgresql.ARRAY(sa.Boolean()),
    "json": postgresql.ARRAY(postgresql.JSONB()),
    "timestamp": postgresql.ARRAY(postgresql.TIMESTAMP(timezone=True)),
}


def json_text(value: Any) -> str:
    """Compact JSON (``domain.json_codec``); non-finite floats as the strings ``"Infinity"``, ``"NaN"`` etc."""
    return encode(value, non_finite="strings").decode()


@lru_cache(maxsize=4096)
def _compiled(dialect: Dialect, statement: str) -> str:
    return str(sa.text(statement).compile(dialect=dialect))


class SQLDialect(ABC):
    """How read-model SQL is written for one database."""

    name: str
    """``"sqlite"`` or ``"postgresql"`` (what ``ReadModelTx.dialect`` tells projections)."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._upserts: dict[tuple[Table, str, bool], str] = {}

    def statement(self, sql: str) -> str:
        """``sql`` (with ``:name`` parameters) in this driver's parameter style."""
        return _compiled(self._dialect, sql)

    def compile(self, construct: sa.sql.ClauseElement | sa.schema.ExecutableDDLElement) -> str:
        """A Core construct as SQL for this database (run it with a parameter dict, even an empty one)."""
        return str(construct.compile(dialect=self._dialect))

    def create_table(self, table: sa.Table) -> list[str]:
        """The statements that create ``table``, its indexes and (where kept) its comments."""
        statements = [self.compile(CreateTable(table))]
        statements += [self.compile(CreateIndex(index)) for index in sorted(table.indexes, key=lambda i: str(i.name))]
        if self._dialect.supports_comments:
            statements += [self.compile(SetTableComment(table))] if table.comment else []
            statements += [self.compile(SetColumnComment(column)) for column in table.columns if column.comment]
        return statements

    def add_columns(self, table: sa.Table, names: Sequence[str]) -> list[str]:
        """The statements that add the columns ``names`` of ``table`` to its existing table (nullable, commented).

        How a read model gains a column without a rebuild: rows written
        before hold NULL there until ``agentgraph projections rebuild`` refills them.
        """
        preparer = self._dialect.identifier_preparer
        statements = []
        for name in names:
            column = table.c[name]
            kind = column.type.compile(dialect=self._dialect)
            statements.append(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.quote(name)} {kind}")
            if self._dialect.supports_comments and column.comment:
                statements.append(self.compile(SetColumnComment(column)))
        return statements

    def upsert(self, cursor: Any, table: Table, suffix: str, rows: Sequence[dict[str, Any]], *, replace: bool) -> None:
        """Bulk-write ``rows`` into ``table`` (``suffix``: the shadow tables of a rebuild) in one statement."""
        key = (table, suffix, replace)
        statement = self._upserts.get(key)
        if statement is None:
            statement = self._upserts[key] = self.compile(self._upsert(table, core_table(table, suffix), replace))
        self._write(cursor, statement, table, rows)

    @abstractmethod
    def json(self, value: Any) -> Any:
        """A value for a JSON column."""

    @abstractmethod
    def _upsert(self, table: Table, core: sa.Table, replace: bool) -> sa.sql.ClauseElement:
        """The upsert statement for ``table`` (``core``: its Core form, named for live or shadow)."""

    @abstractmethod
    def _write(self, cursor: Any, statement: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Run the upsert ``statement`` with ``rows`` encoded for it."""


def core_table(table: Table, suffix: str = "", *, with_indexes: bool = False) -> sa.Table:
    """``table`` (named with ``suffix``) as a SQLAlchemy Core table in schema ``read``.

    Index names get a random part: a shadow table renamed into place keeps
    its index names, so the next shadow table must not reuse them.
    """
    name = table.name + suffix
    core = sa.Table(
        name,
        sa.MetaData(schema=SCHEMA),
        *(sa.Column(c.name, _TYPES[c.kind], comment=c.comment) for c in table.columns),
        sa.PrimaryKeyConstraint(*table.primary_key),
        comment=table.comment,
    )
    if with_indexes:
        for columns in table.indexes:
            # within PostgreSQL's 63-character identifiers, random part included
            index = f"{name}__{'_'.join(columns)}"[:50] + f"__{secrets.token_hex(3)}"
            sa.Index(index, *(core.c[column] for column in columns))
    return core


def _conflict_update(statement: Any, table: sa.Table, replace: bool) -> sa.sql.ClauseElement:
    keys = [column.name for column in table.primary_key.columns]
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    if replace and updates:
        return statement.on_conflict_do_update(index_elements=keys, set_=updates)
    return statement.on_conflict_do_nothing(index_elements=keys)


class SQLiteDialect(SQLDialect):
    """SQL for sqlite3: ``:name`` parameters, JSON as text, upserts as one ``executemany``."""

    name = "sqlite"

    def __init__(self) -> None:
        super().__init__(sqlite.dialect(paramstyle="named"))

    def json(self, value: Any) -> Any:
        return None if value is None else json_text(value)

    def _upsert(self, table: Table, core: sa.Table, replace: bool) -> sa.sql.ClauseElement:
        statement = sqlite.insert(core).values({c.name: sa.bindparam(c.name) for c in table.columns})
        return _conflict_update(statement, core, replace)

    def _write(self, cursor: Any, statement: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        encoded = [(c.name, c.kind == "json") for c in table.columns]
        cursor.executemany(
            statement,
            [
                {name: self.json(row.get(name)) if is_json else row.get(name) for name, is_json in encoded}
                for row in rows
            ],
        )


class _BinaryArray(list[Any]):
    """One column's values, sent to PostgreSQL as one binary array (dumped in C; text arrays are 2-3x slower)."""


psycopg.adapters.register_dumper(_BinaryArray, ListBinaryDumper)


def _pg_json(value: Any) -> bytes:
    # no fallback: a value JSON cannot hold fails loudly, as on SQLite
    return encode(value, non_finite="strings")


def _pg_array(kind: str, values: list[Any]) -> _BinaryArray:
    """Values of one column, each coerced to the column's type."""
    if kind == "json":
        return _BinaryArray(None if v is None else _pg_json(v).decode() for v in values)
    if kind in ("text", "timestamp"):
        return _BinaryArray(None if v is None else str(v) for v in values)
    if kind == "float":
        return _BinaryArray(None if v is None else float(v) for v in values)
    if kind == "int":
        return _BinaryArray(None if v is None else int(v) for v in values)
    return _BinaryArray(None if v is None else bool(v) for v in values)


class PostgresDialect(SQLDialect):
    """SQL for psycopg: ``%(name)s`` parameters, JSONB, upserts as one ``unnest`` of typed arrays."""

    name = "postgresql"

    def __init__(self) -> None:
        super().__init__(postgresql_psycopg.dialect())

    def json(self, value: Any) -> Any:
        return None if value is None else Jsonb(value, dumps=_pg_json)

    def _upsert(self, table: Table, core: sa.Table, replace: bool) -> sa.sql.ClauseElement:
        # one statement whatever the row count: one array per column, unnested into rows
        arrays: list[sa.ColumnElement[Any]] = []
        for column in table.columns:
            array = sa.cast(sa.bindparam(column.name), _ARRAYS[column.kind])
            if column.kind in ("json", "timestamp"):
                # sent as text arrays, which PostgreSQL casts element by element
                array = sa.cast(sa.cast(sa.bindparam(column.name), _ARRAYS["text"]), _ARRAYS[column.kind])
            arrays.append(array)
        rows: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(sa.func.unnest(*arrays))
        statement = postgresql.insert(core).from_select([c.name for c in table.columns], rows)
        return _conflict_update(statement, core, replace)

    def _write(self, cursor: Any, statement: str, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        cursor.execute(statement, {c.name: _pg_array(c.kind, [row.get(c.name) for row in rows]) for c in table.columns})


SQLITE = SQLiteDialect()
POSTGRESQL = PostgresDialect()
