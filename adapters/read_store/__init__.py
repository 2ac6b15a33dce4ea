"""Read-model databases: SQLite (embedded) and PostgreSQL (schema ``read``).

- ``dialect``: read-model SQL compiled for each database (SQLAlchemy Core);
- ``store``: transactions, batches applied together with their positions, shadow tables;
- ``positions``: the checkpoints (how far each projection applied each log);
- ``sqlite`` and ``postgres``: the two databases;
- ``rebuild``: replaying the event store into shadow tables and swapping them in.
"""

from adapters.read_store.dialect import SCHEMA
from adapters.read_store.positions import LIVE_PARTITION
from adapters.read_store.postgres import PostgresReadStore
from adapters.read_store.rebuild import Partitioning, rebuild_projection
from adapters.read_store.sqlite import SQLiteReadStore
from adapters.read_store.store import ReadStore, ReadTransaction

__all__ = [
    "LIVE_PARTITION",
    "SCHEMA",
    "Partitioning",
    "PostgresReadStore",
    "ReadStore",
    "ReadTransaction",
    "SQLiteReadStore",
    "rebuild_projection",
]
