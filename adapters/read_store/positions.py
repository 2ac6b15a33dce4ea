"""Checkpoints: how far each projection has applied each context's log.

One row per (projection, context, Kafka partition) in ``read.projection_positions``.
The in-process feed records partition ``LIVE_PARTITION``; a Kafka projector
records one row per partition, with the Kafka offset it consumed up to.
Every function here works inside a read-model transaction, so a position is
always written in the same transaction as the read-model change it stands for.
"""

from __future__ import annotations

import sqlalchemy as sa

from adapters.read_store.dialect import SCHEMA
from projections.store import ReadModelTx

LIVE_PARTITION = -1
"""Partition recorded for positions kept by the in-process dispatcher (no Kafka)."""

_NAME = "projection_positions"
_TABLE = f"{SCHEMA}.{_NAME}"

POSITIONS = sa.Table(
    _NAME,
    sa.MetaData(schema=SCHEMA),
    sa.Column("projection", sa.Text(), nullable=False, comment="The projection (read model) the position is of."),
    sa.Column("context", sa.Text(), nullable=False, comment="The bounded context whose event log it follows."),
    sa.Column(
        "kafka_partition",
        sa.Integer(),
        nullable=False,
        comment="The Kafka partition consumed, or -1 for the in-process feed.",
    ),
    sa.Column("log_position", sa.BigInteger(), nullable=False, comment="The last log position applied."),
    sa.Column("kafka_offset", sa.BigInteger(), comment="The last Kafka offset consumed (null without Kafka)."),
    sa.PrimaryKeyConstraint("projection", "context", "kafka_partition"),
    comment="How far each projection has applied each context's event log (written with each change).",
)


def position(tx: ReadModelTx, projection: str, context: str, partition: int = LIVE_PARTITION) -> int:
    """The last applied log position (0 when nothing was applied)."""
    row = tx.fetchone(
        f"SELECT log_position FROM {_TABLE} "
        "WHERE projection = :projection AND context = :context AND kafka_partition = :partition",
        {"projection": projection, "context": context, "partition": partition},
    )
    return int(row["log_position"]) if row else 0


def by_partition(tx: ReadModelTx, projection: str) -> dict[tuple[str, int], int]:
    """The last applied log position per (context, partition)."""
    rows = tx.fetchall(
        f"SELECT context, kafka_partition, log_position FROM {_TABLE} WHERE projection = :projection",
        {"projection": projection},
    )
    return {(str(r["context"]), int(r["kafka_partition"])): int(r["log_position"]) for r in rows}


def save(
    tx: ReadModelTx,
    projection: str,
    context: str,
    log_position: int,
    partition: int = LIVE_PARTITION,
    kafka_offset: int | None = None,
) -> None:
    """Record ``log_position`` (and the Kafka offset, when given; an earlier one is kept otherwise)."""
    tx.execute(
        f"INSERT INTO {_TABLE} (projection, context, kafka_partition, log_position, kafka_offset) "
        "VALUES (:projection, :context, :partition, :position, :offset) "
        "ON CONFLICT (projection, context, kafka_partition) DO UPDATE SET log_position = excluded.log_position, "
        f"kafka_offset = COALESCE(excluded.kafka_offset, {_TABLE}.kafka_offset)",
        {
            "projection": projection,
            "context": context,
            "partition": partition,
            "position": log_position,
            "offset": kafka_offset,
        },
    )


def kafka_offset(tx: ReadModelTx, projection: str, context: str, partition: int) -> int | None:
    """The last Kafka offset ``projection`` consumed from ``context``'s ``partition`` (None: nothing yet)."""
    row = tx.fetchone(
        f"SELECT kafka_offset FROM {_TABLE} WHERE projection = :projection "
        "AND context = :context AND kafka_partition = :partition",
        {"projection": projection, "context": context, "partition": partition},
    )
    return None if row is None or row["kafka_offset"] is None else int(row["kafka_offset"])


def forget(tx: ReadModelTx, projection: str) -> None:
    """Delete every position of ``projection``."""
    tx.execute(f"DELETE FROM {_TABLE} WHERE projection = :projection", {"projection": projection})
