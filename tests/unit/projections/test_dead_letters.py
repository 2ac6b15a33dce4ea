"""Parking, in one read store: an event that fails by itself is parked, a failing database never is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.projection_runner import ProjectionRunner
from adapters.read_store import SQLiteReadStore
from adapters.read_store.store import PARK_AFTER, EventNotAppliedError
from domain.event_types import type_name
from domain.graph import Graph
from projections.audit import AuditProjection
from projections.dead_letters import UnreadableEvent
from projections.envelope import EventEnvelope
from projections.graphs.projection import GraphsProjection
from projections.registry import all_projections
from projections.store import ReadModelTx
from tests.read_models import table_rows

AT = "2026-01-01T00:00:00+00:00"


def _created(position: int, graph_id: str, *, content: bool = True) -> EventEnvelope:
    data = {"user_id": "u", **({"content": {"name": graph_id, "nodes": [], "links": []}} if content else {})}
    return EventEnvelope(f"{graph_id}:1", type_name(Graph.Created), "graphs", graph_id, 1, position, AT, data)


def _version(position: int, graph_id: str) -> EventEnvelope:
    data = {"version": 2, "content": {"name": f"{graph_id} v2", "nodes": [], "links": []}}
    return EventEnvelope(f"{graph_id}:2", type_name(Graph.VersionCreated), "graphs", graph_id, 2, position, AT, data)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteReadStore:
    created = SQLiteReadStore(tmp_path / "read.sqlite3")
    created.create_tables(all_projections())
    return created


def _graphs(store: SQLiteReadStore) -> dict[str, int]:
    return {row["graph_id"]: row["latest_version"] for row in table_rows(store, "graphs", "graph_id")}


def test_an_event_that_keeps_failing_is_parked_and_the_rest_of_its_batch_applies(store: SQLiteReadStore) -> None:
    batch = [_created(1, "a"), _created(2, "b", content=False), _created(3, "c"), _version(4, "b"), _version(5, "a")]
    for _ in range(PARK_AFTER - 1):  # what a follower does: the same batch again after a back-off
        with pytest.raises(EventNotAppliedError):
            store.apply(GraphsProjection(), "graphs", batch)
        assert _graphs(store) == {}  # nothing is written until the event is parked
    assert store.apply(GraphsProjection(), "graphs", batch) == 3
    assert _graphs(store) == {"a": 2, "c": 1}
    parked = [(d.log_position, d.event_type, d.held_behind, d.attempts) for d in store.dead_letters()]
    assert parked == [(2, type_name(Graph.Created), None, PARK_AFTER), (4, type_name(Graph.VersionCreated), 2, 0)]
    assert store.positions("graphs") == {"graphs": 5}
    assert store.apply(GraphsProjection(), "graphs", batch) == 0  # a redelivery parks nothing twice
    assert len(store.dead_letters()) == 2


class _FailingDatabase(GraphsProjection):
    def __init__(self, failures: int) -> None:
        self.failures = failures

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        super().apply(batch, tx)


def test_a_failing_database_is_retried_and_never_parks_an_event(store: SQLiteReadStore) -> None:
    projection = _FailingDatabase(failures=PARK_AFTER * 3)
    for _ in range(PARK_AFTER * 3):
        with pytest.raises(sqlite3.OperationalError):
            store.apply(projection, "graphs", [_created(1, "a")])
    assert store.apply(projection, "graphs", [_created(1, "a")]) == 1
    assert _graphs(store) == {"a": 1} and store.dead_letters() == []


def _unreadable(position: int, graph_id: str) -> UnreadableEvent:
    return UnreadableEvent(
        f"{graph_id}:1", type_name(Graph.Created), "graphs", graph_id, 1, position, AT, {}, error="does not decode"
    )


def test_every_projection_of_a_log_counts_a_poison_in_the_same_attempts(store: SQLiteReadStore) -> None:
    """Two projections of one log park a poison together: PARK_AFTER - 1 retries in all, not twice as many.

    One after the other, the second would start failing only once the first
    had parked, and the follower's doubling back-off (0.2, 0.4, 0.8, 1.6 s)
    would hold every later event of the log for seconds (issue 8's "another
    user's run readable within a second" missed it in CI).
    """
    runner = ProjectionRunner(store, [GraphsProjection(), AuditProjection()], logs={})
    batch = [_created(1, "a"), _unreadable(2, "b"), _created(3, "c")]
    for _ in range(PARK_AFTER - 1):
        with pytest.raises(EventNotAppliedError):
            runner._apply("graphs", batch)  # what the follower calls, and calls again after a back-off
    runner._apply("graphs", batch)
    assert {(d.projection, d.log_position) for d in store.dead_letters()} == {("graphs", 2), ("audit", 2)}
    assert _graphs(store) == {"a": 1, "c": 1}


def test_a_kafka_poll_counts_a_poison_in_every_projection_in_the_same_attempts(store: SQLiteReadStore) -> None:
    polled = [("graphs", 0, [_created(1, "a"), _unreadable(2, "b"), _created(3, "c")], 3)]
    projections = [GraphsProjection(), AuditProjection()]
    for _ in range(PARK_AFTER - 1):
        with pytest.raises(EventNotAppliedError):
            store.apply_polled(projections, polled)
        assert _graphs(store) == {}  # the poll is one transaction: nothing of it is written
    store.apply_polled(projections, polled)
    assert {(d.projection, d.log_position) for d in store.dead_letters()} == {("graphs", 2), ("audit", 2)}
    assert _graphs(store) == {"a": 1, "c": 1}
