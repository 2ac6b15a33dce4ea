"""A read store made by an earlier release gains the columns declared since, without a rebuild."""

from __future__ import annotations

from pathlib import Path

from adapters.read_store import SQLiteReadStore
from projections.registry import all_projections


def test_a_column_declared_later_is_added_to_an_existing_table(tmp_path: Path) -> None:
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    try:
        store.create_tables(all_projections())
        with store.transaction() as tx:  # the table as an earlier release made it
            tx.execute("ALTER TABLE read.graph_versions DROP COLUMN forked_from_id")
            assert "forked_from_id" not in tx.columns("graph_versions")
        store.create_tables(all_projections())
        with store.transaction() as tx:
            assert "forked_from_id" in tx.columns("graph_versions")
    finally:
        store.close()
