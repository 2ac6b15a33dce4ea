"""Read models in the ``read`` schema of a PostgreSQL database, through a psycopg pool."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from adapters.read_store.dialect import POSTGRESQL, SCHEMA
from adapters.read_store.store import ReadStore, ReadTransaction
from domain.json_codec import decode


class PostgresReadStore(ReadStore):
    """Read models in the ``read`` schema of a PostgreSQL database.

    Transactions come from a small connection pool, so API queries run beside
    the projector's batches instead of queueing behind them (writers of one
    projection still exclude each other through an advisory lock). Its
    connections are named ``agentgraph-read-<pid>`` in ``pg_stat_activity``.
    """

    sql = POSTGRESQL
    serialized = False

    def __init__(self, dsn: str, *, pool_size: int = 8) -> None:
        super().__init__()
        self.application_name = f"agentgraph-read-{os.getpid()}"
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_size,
            kwargs={"row_factory": dict_row, "autocommit": False, "application_name": self.application_name},
            name=self.application_name,
            # JSON columns are read by the platform's one codec, as they were written
            configure=lambda conn: set_json_loads(decode, conn),
            open=True,
        )
        self._pool.wait(timeout=30)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        # the pool replaces connections that broke (a database restart) when they are handed back
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            yield cursor

    def lock_projection(self, tx: ReadTransaction, projection: str) -> None:
        # across processes: live projector batches and a rebuild's swap exclude each other
        tx.execute("SELECT pg_advisory_xact_lock(:key)", {"key": zlib.crc32(f"projection:{projection}".encode())})

    def _create_schema(self, tx: ReadTransaction) -> None:
        tx.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        tx.execute(
            f"COMMENT ON SCHEMA {SCHEMA} IS 'agentgraph read models (projections of the event stores); "
            "rebuildable at any time with: agentgraph projections rebuild'"
        )

    def _table_exists(self, tx: ReadTransaction, table: str) -> bool:
        found = tx.fetchone("SELECT to_regclass(:name) AS oid", {"name": f"{SCHEMA}.{table}"})
        return bool(found and found["oid"])

    def close(self) -> None:
        self._pool.close()
