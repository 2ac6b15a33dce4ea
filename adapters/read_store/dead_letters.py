"""``read.dead_letters``: the events projections parked (``projections.dead_letters`` says why and how).

One row per (projection, context, log position). Every function here works
inside a read-model transaction, so a row is written in the same
transaction as the position that moves past its event, and removed in the
same transaction as its event's application.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from adapters.read_store.dialect import SCHEMA
from projections.dead_letters import TABLE
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx, iso

_TABLE = f"{SCHEMA}.{TABLE}"

DEAD_LETTERS = sa.Table(
    TABLE,
    sa.MetaData(schema=SCHEMA),
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
        comment="The parked event's number (what `agentgraph projections retry` takes).",
    ),
    sa.Column("projection", sa.Text(), nullable=False, comment="The projection that could not apply the event."),
    sa.Column("context", sa.Text(), nullable=False, comment="The bounded context whose log holds the event."),
    sa.Column("log_position", sa.BigInteger(), nullable=False, comment="The event's position in that log."),
    sa.Column("aggregate_id", sa.Text(), nullable=False, comment="The aggregate the event belongs to."),
    sa.Column(
        "event_type",
        sa.Text(),
        nullable=False,
        comment="The event's type (Aggregate.EventName, as envelopes carry it).",
    ),
    sa.Column(
        "held_behind",
        sa.BigInteger(),
        comment="For an event parked only to keep its aggregate's order: the position of the aggregate's "
        "first parked event (null for the event that failed itself).",
    ),
    sa.Column("error", sa.Text(), nullable=False, comment="Why it was parked (the last failure)."),
    sa.Column("first_failure", sa.Text(), nullable=False, comment="When applying it first failed (ISO 8601, UTC)."),
    sa.Column("last_failure", sa.Text(), nullable=False, comment="When applying it last failed (ISO 8601, UTC)."),
    sa.Column("attempts", sa.Integer(), nullable=False, comment="How many times applying it failed."),
    sa.UniqueConstraint("projection", "context", "log_position"),
    comment="Events a projection could not apply, parked so the read models move on "
    "(list: agentgraph projections dead-letters; re-apply: agentgraph projections retry).",
)


@dataclass(frozen=True)
class DeadLetter:
    """One parked event."""

    id: int
    projection: str
    context: str
    log_position: int
    aggregate_id: str
    event_type: str
    held_behind: int | None
    error: str
    first_failure: str
    last_failure: str
    attempts: int

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON (``agentgraph projections dead-letters --json``)."""
        return dict(self.__dict__)


def now() -> str:
    """The time of a failure, as stored."""
    return datetime.now(UTC).isoformat()


def held_aggregates(tx: ReadModelTx, projection: str, context: str) -> dict[str, int]:
    """aggregate id -> position of its first parked event, for the aggregates ``projection`` holds in ``context``."""
    rows = tx.fetchall(
        f"SELECT aggregate_id, MIN(log_position) AS first FROM {_TABLE} "
        "WHERE projection = :projection AND context = :context GROUP BY aggregate_id",
        {"projection": projection, "context": context},
    )
    return {str(row["aggregate_id"]): int(row["first"]) for row in rows}


def parked_positions(tx: ReadModelTx, projection: str) -> set[tuple[str, int]]:
    """(context, log position) of every event ``projection`` parked."""
    rows = tx.fetchall(
        f"SELECT context, log_position FROM {_TABLE} WHERE projection = :projection", {"projection": projection}
    )
    return {(str(row["context"]), int(row["log_position"])) for row in rows}


def park(
    tx: ReadModelTx,
    projection: str,
    event: EventEnvelope,
    *,
    error: str,
    attempts: int,
    first_failure: str,
    held_behind: int | None = None,
) -> None:
    """Record ``event`` as parked by ``projection`` (a second park of it only refreshes the row)."""
    tx.execute(
        f"INSERT INTO {_TABLE} (projection, context, log_position, aggregate_id, event_type, held_behind, error, "
        "first_failure, last_failure, attempts) VALUES (:projection, :context, :position, :aggregate_id, :type, "
        ":held_behind, :error, :first_failure, :last_failure, :attempts) "
        "ON CONFLICT (projection, context, log_position) DO UPDATE SET error = excluded.error, "
        "last_failure = excluded.last_failure, attempts = excluded.attempts",
        {
            "projection": projection,
            "context": event.context,
            "position": event.position,
            "aggregate_id": event.aggregate_id,
            "type": event.type,
            "held_behind": held_behind,
            "error": error,
            "first_failure": first_failure,
            "last_failure": now(),
            "attempts": attempts,
        },
    )


def listed(tx: ReadModelTx, ids: list[int] | None = None) -> list[DeadLetter]:
    """The parked events (those numbered ``ids`` if given), by projection, context and position."""
    where, params = "", {}
    if ids is not None:
        params = {f"i{n}": value for n, value in enumerate(ids)}
        where = f"WHERE id IN ({', '.join(f':i{n}' for n in range(len(ids)))})" if ids else "WHERE 1 = 0"
    rows = tx.fetchall(f"SELECT * FROM {_TABLE} {where} ORDER BY projection, context, log_position", params)
    return [_letter(row) for row in rows]


def of_aggregate(tx: ReadModelTx, projection: str, context: str, aggregate_id: str) -> list[DeadLetter]:
    """The events of one aggregate that ``projection`` parked, in log order."""
    rows = tx.fetchall(
        f"SELECT * FROM {_TABLE} WHERE projection = :projection AND context = :context "
        "AND aggregate_id = :aggregate_id ORDER BY log_position",
        {"projection": projection, "context": context, "aggregate_id": aggregate_id},
    )
    return [_letter(row) for row in rows]


def failed_again(tx: ReadModelTx, letter: DeadLetter, error: str) -> None:
    """A retry of ``letter`` failed: count it and keep the error; its aggregate's later events wait behind it."""
    tx.execute(
        f"UPDATE {_TABLE} SET error = :error, last_failure = :at, attempts = attempts + 1, held_behind = NULL "
        "WHERE id = :id",
        {"error": error, "at": now(), "id": letter.id},
    )
    tx.execute(
        f"UPDATE {_TABLE} SET held_behind = :position, error = :held WHERE projection = :projection "
        "AND context = :context AND aggregate_id = :aggregate_id AND log_position > :position",
        {
            "position": letter.log_position,
            "held": held_error(letter.log_position),
            "projection": letter.projection,
            "context": letter.context,
            "aggregate_id": letter.aggregate_id,
        },
    )


def held_error(first: int) -> str:
    """The error of an event parked only to keep its aggregate's order."""
    return f"held behind the parked event at position {first} of the same aggregate"


def remove(tx: ReadModelTx, letter: DeadLetter) -> None:
    """``letter``'s event was applied: it is parked no more."""
    tx.execute(f"DELETE FROM {_TABLE} WHERE id = :id", {"id": letter.id})


def counts(tx: ReadModelTx) -> dict[tuple[str, str], int]:
    """(projection, context) -> how many events are parked."""
    rows = tx.fetchall(f"SELECT projection, context, COUNT(*) AS n FROM {_TABLE} GROUP BY projection, context")
    return {(str(row["projection"]), str(row["context"])): int(row["n"]) for row in rows}


def _letter(row: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        id=int(row["id"]),
        projection=str(row["projection"]),
        context=str(row["context"]),
        log_position=int(row["log_position"]),
        aggregate_id=str(row["aggregate_id"]),
        event_type=str(row["event_type"]),
        held_behind=None if row["held_behind"] is None else int(row["held_behind"]),
        error=str(row["error"]),
        first_failure=iso(row["first_failure"]) or "",
        last_failure=iso(row["last_failure"]) or "",
        attempts=int(row["attempts"]),
    )
