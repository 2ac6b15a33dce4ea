"""Proof that ``postgres_dsn`` hands each test a fresh, real PostgreSQL database."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.fixtures.services import TEST_DATABASE_PREFIX

pytestmark = pytest.mark.integration

# database names handed out so far in this session, to prove isolation and the drop
_seen_databases: list[str] = []


class _RollbackError(Exception):
    pass


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)).fetchone()
    assert row is not None
    return bool(row[0])


def test_committed_transaction_is_visible_from_another_connection(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as writer, psycopg.connect(postgres_dsn, autocommit=True) as reader:
        with writer.transaction():
            writer.execute("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
            writer.cursor().executemany(
                "INSERT INTO items (id, name) VALUES (%s, %s)", [(i, f"item-{i}") for i in range(1, 6)]
            )
            # not committed yet: the other connection sees nothing
            assert not _table_exists(reader, "items")

        rows = reader.execute("SELECT id, name FROM items ORDER BY id").fetchall()
        assert rows == [(i, f"item-{i}") for i in range(1, 6)]


def test_rolled_back_transaction_leaves_nothing(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as writer, psycopg.connect(postgres_dsn, autocommit=True) as reader:
        with pytest.raises(_RollbackError), writer.transaction():
            writer.execute("CREATE TABLE doomed (id int PRIMARY KEY)")
            writer.execute("INSERT INTO doomed (id) SELECT generate_series(1, 10)")
            row = writer.execute("SELECT count(*) FROM doomed").fetchone()
            assert row == (10,)
            raise _RollbackError

        assert not _table_exists(writer, "doomed")
        assert not _table_exists(reader, "doomed")


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_empty_database(postgres_server: str, postgres_dsn: str, run: int) -> None:
    dbname = conninfo_to_dict(postgres_dsn)["dbname"]
    assert isinstance(dbname, str)
    assert dbname.startswith(TEST_DATABASE_PREFIX)
    assert dbname != conninfo_to_dict(postgres_server).get("dbname")
    assert dbname not in _seen_databases

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
        assert row == (dbname,)
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        ).fetchone()
        assert row == (0,), "a fresh test database must be empty"
        # leave something behind: the next run must not see it
        conn.execute("CREATE TABLE leftover (id int)")

    # databases of earlier tests were dropped
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        existing = {
            name
            for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname = ANY(%s)", (_seen_databases,))
        }
    assert existing == set()
    _seen_databases.append(dbname)
