"""Projection SQL written once runs on SQLite and PostgreSQL alike (the read store's dialect layer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.read_store import PostgresReadStore, ReadStore, SQLiteReadStore
from projections.base import Projection
from projections.envelope import EventEnvelope
from projections.schema import Column, Table
from projections.store import ReadModelTx
from tests.read_models import table_rows

pytestmark = pytest.mark.integration

TRICKY = "Ratios like 50% of a user's runs; not a :parameter, nor %(one)s"
NOTES = Table(
    name="dialect_notes",
    comment=TRICKY,
    columns=(
        Column("note_id", "text", "The note's id"),
        Column("share", "float", TRICKY),
        Column("count", "int", "How many"),
        Column("done", "bool", "Done or not"),
        Column("body", "json", "Any JSON"),
        Column("at", "timestamp", "When"),
    ),
    primary_key=("note_id",),
    indexes=(("done", "count"),),
)


class Notes(Projection):
    name = "dialect_notes"
    contexts = frozenset({"notes"})
    tables = (NOTES,)

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        tx.upsert(NOTES, [{"note_id": e.aggregate_id, **e.data} for e in batch])


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReadStore]:
    made: ReadStore = (
        SQLiteReadStore(tmp_path / "read.sqlite3")
        if request.param == "sqlite"
        else PostgresReadStore(request.getfixturevalue("postgres_dsn"))
    )
    made.create_tables([Notes()])
    yield made
    made.close()


def _event(note_id: str, position: int, **data: object) -> EventEnvelope:
    return EventEnvelope(note_id, "Noted", "notes", note_id, 1, position, "2026-01-01T00:00:00Z", dict(data))


def test_named_parameters_and_literal_percent_signs_mean_the_same_on_both(store: ReadStore) -> None:
    with store.transaction() as tx:
        row = tx.fetchone("SELECT '50%' AS share, :n + 1 AS n, :text AS text", {"n": 1, "text": "a:b %s"})

    assert row == {"share": "50%", "n": 2, "text": "a:b %s"}


def test_bulk_upserts_replace_rows_and_keep_their_values(store: ReadStore) -> None:
    first = {"share": 0.5, "count": 3, "done": False, "body": {"a": [1, None]}, "at": "2026-01-01T00:00:00+00:00"}
    store.apply(Notes(), "notes", [_event("n1", 1, **first), _event("n2", 2, **{**first, "share": None})])
    store.apply(Notes(), "notes", [_event("n1", 3, **{**first, "count": 4, "done": True, "body": {"b": "50%"}})])

    rows = table_rows(store, "dialect_notes", "note_id")

    bodies = [json.loads(r["body"]) if isinstance(r["body"], str) else r["body"] for r in rows]  # SQLite: JSON text
    assert [(r["note_id"], r["share"], r["count"], bool(r["done"])) for r in rows] == [
        ("n1", 0.5, 4, True),
        ("n2", None, 3, False),
    ]
    assert bodies == [{"b": "50%"}, {"a": [1, None]}]
    assert store.positions("dialect_notes") == {"notes": 3}


def test_postgres_keeps_comments_verbatim(postgres_dsn: str) -> None:
    store = PostgresReadStore(postgres_dsn)
    try:
        store.create_tables([Notes()])
    finally:
        store.close()
    with psycopg.connect(postgres_dsn) as conn:
        table, column = conn.execute(
            "SELECT obj_description('read.dialect_notes'::regclass), col_description('read.dialect_notes'::regclass, 2)"
        ).fetchone() or (None, None)

    assert table == TRICKY
    assert column == TRICKY
