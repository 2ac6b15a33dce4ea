"""Event-store configuration for the eventsourcing applications.

Embedded mode keeps one SQLite file per bounded context in the data folder;
with ``AGENTGRAPH_DATABASE_URL`` each context gets its own events table
(``<context>_events``) in PostgreSQL. Either way the application code is the
same: only the environment handed to eventsourcing differs.
"""

from __future__ import annotations

from pathlib import Path

from eventsourcing.utils import get_topic
from psycopg.conninfo import conninfo_to_dict

from adapters.event_transcoder import PlainJSONTranscoder
from adapters.postgres_recorder import ArrayInsertPostgresApplicationRecorder
from adapters.settings import Settings
from adapters.sqlite_recorder import BatchInsertSQLiteApplicationRecorder

TRANSCODER = get_topic(PlainJSONTranscoder)
"""Every context stores events as plain JSON (see adapters.event_transcoder)."""


def postgres_env(database_url: str, *, create_table: bool = True, pool_size: int | None = None) -> dict[str, str]:
    """eventsourcing's PostgreSQL settings from a libpq DSN or URL."""
    params = conninfo_to_dict(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(params.get("port") or "5432"),
        "POSTGRES_USER": str(params.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(params.get("password") or ""),
        # Also how long a command waits for a free pooled connection, and eventsourcing
        # tries 10 times: a burst that exhausts the pool is a 503 after ~30 s, not ~100 s.
        "POSTGRES_CONNECT_TIMEOUT": "3",
        "CREATE_TABLE": "y" if create_table else "n",
        # Kept off on purpose: with it on, log followers lose events under
        # concurrent writers.
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "APPLICATION_RECORDER_TOPIC": get_topic(ArrayInsertPostgresApplicationRecorder),
        "TRANSCODER_TOPIC": TRANSCODER,
    }
    if pool_size is not None:
        env["POSTGRES_POOL_SIZE"] = str(pool_size)  # connections kept open (more are opened on demand)
    options = params.get("options")
    if options and "search_path=" in str(options):
        env["POSTGRES_SCHEMA"] = str(options).split("search_path=")[-1].split()[0]
    return env


def sqlite_env(data_dir: Path, context: str, *, create_table: bool = True) -> dict[str, str]:
    """eventsourcing's SQLite settings: one file per context in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(data_dir / f"{context}.sqlite3"),
        "SQLITE_LOCK_TIMEOUT": "10",
        "CREATE_TABLE": "y" if create_table else "n",
        "TRANSCODER_TOPIC": TRANSCODER,
        "APPLICATION_RECORDER_TOPIC": get_topic(BatchInsertSQLiteApplicationRecorder),
    }


def event_store_env(
    settings: Settings, context: str, *, create_table: bool = True, pool_size: int | None = None
) -> dict[str, str]:
    """The environment for the ``context`` application under ``settings``."""
    if settings.database_url:
        return postgres_env(settings.database_url, create_table=create_table, pool_size=pool_size)
    return sqlite_env(settings.data_dir, context, create_table=create_table)
