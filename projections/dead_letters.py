"""Parked events: what a projection could not apply, kept aside so the read models move on.

As Marten's projection dead-letter queue and EventStoreDB's parked messages
do, a projector that cannot apply an event (its stored form does not
decode, or a projection's handler raises on it) retries it a few times,
then parks it: one row in ``read.dead_letters``, written in the same
transaction that moves the projection's position past it, so the event is
applied zero times and recorded once. The read store does the parking
(``adapters.read_store``); ``agentgraph projections dead-letters`` lists the
rows and ``agentgraph projections retry`` re-applies them after a fix.

Order per aggregate is kept: once an event of an aggregate is parked, that
projection parks the aggregate's later events behind it ("held") instead of
applying them out of order, so the aggregate's rows stay as they were
before the parked event (and say so: ``parked_events`` in the API's graph
and run answers). A retry applies an aggregate's parked events together, in
log order, each once, and stops at the first that still fails.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

TABLE = "dead_letters"
"""The table of parked events (``read.dead_letters``)."""


@dataclass(frozen=True)
class UnreadableEvent(EventEnvelope):
    """A stored event whose form could not be decoded: what is known of it, and why (never applied, parked)."""

    error: str = ""


class ParkedEvents(BaseModel):
    """An answer's ``parked_events``: present only when its aggregate has parked events (AutoGPT's keys unchanged)."""

    parked_events: int | None = Field(
        default=None,
        description="Events of this graph or run its read model parked instead of applying (so this answer may be "
        "behind its event store; an operator lists them with `agentgraph projections dead-letters` and re-applies "
        "them with `agentgraph projections retry`). Absent when there are none.",
    )

    @model_serializer(mode="wrap")
    def _without_none(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.parked_events is None and isinstance(data, dict):
            data.pop("parked_events", None)
        return data


def parked_counts(tx: ReadModelTx, projection: str, aggregate_ids: Collection[str]) -> dict[str, int]:
    """How many events of each of ``aggregate_ids`` ``projection`` has parked (absent: none)."""
    if not aggregate_ids:
        return {}
    ids = sorted(set(aggregate_ids))
    params: dict[str, object] = {f"a{i}": aggregate_id for i, aggregate_id in enumerate(ids)}
    placeholders = ", ".join(f":a{i}" for i in range(len(ids)))
    rows = tx.fetchall(
        f"SELECT aggregate_id, COUNT(*) AS n FROM {tx.t(TABLE)} "
        f"WHERE projection = :projection AND aggregate_id IN ({placeholders}) GROUP BY aggregate_id",
        {**params, "projection": projection},
    )
    return {str(row["aggregate_id"]): int(row["n"]) for row in rows}
