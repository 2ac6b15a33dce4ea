"""Whole read-model tables, for tests that compare them (live against rebuilt, embedded against Kafka)."""

from __future__ import annotations

from typing import Any

from adapters.read_store import SCHEMA, ReadStore


def table_rows(store: ReadStore, table: str, order_by: str) -> list[dict[str, Any]]:
    """Every row of the live table ``read.<table>``, in ``order_by`` order."""
    with store.transaction() as tx:
        return tx.fetchall(f"SELECT * FROM {SCHEMA}.{table} ORDER BY {order_by}")
