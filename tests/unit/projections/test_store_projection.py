"""The store projection's run counts and cache generation, from envelopes: the same whichever log comes first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.read_store import SQLiteReadStore
from domain.event_types import type_name
from domain.execution import GraphExecution
from domain.graph import Graph
from domain.store_listing import StoreListing
from projections.envelope import EventEnvelope
from projections.registry import all_projections
from projections.store_listings.projection import StoreListingsProjection
from projections.store_listings.queries import StoreQueries
from projections.store_listings.tables import TABLES
from tests.read_models import table_rows

AT = "2026-01-01T00:00:00+00:00"
GRAPH, LISTING, VERSION = "g-1", "l-1", "v-1"


def _event(context: str, position: int, event_type: type, aggregate: str, **data: Any) -> EventEnvelope:
    return EventEnvelope(f"{context}:{position}", type_name(event_type), context, aggregate, 1, position, AT, data)


def _run(position: int, user: str, parent: str | None = None) -> EventEnvelope:
    return _event(
        "executions", position, GraphExecution.Requested, f"run-{position}", graph_id=GRAPH, graph_version=1,
        user_id=user, inputs={}, credentials_inputs={}, nodes_input_masks={}, parent_execution_id=parent,
        parent_node_exec_id=None,
    )  # fmt: skip


STORE = [
    _event("store", 1, StoreListing.Created, LISTING, owner_user_id="alice", graph_id=GRAPH, slug="a", created_at=AT),
    _event(
        "store", 2, StoreListing.VersionSubmitted, LISTING, store_listing_version_id=VERSION, version=1,
        graph_version=1, details={"name": "Adder", "categories": ["Math"]}, submitted_at=AT,
    ),
    _event(
        "store", 3, StoreListing.VersionReviewed, LISTING, owner_user_id="alice", store_listing_version_id=VERSION,
        graph_id=GRAPH, graph_version=1, agent_name="Adder", approved=True, reviewer_id="root", review_comments="ok",
        internal_comments=None, reviewed_at=AT,
    ),
]  # fmt: skip
RUNS = [_run(1, "alice"), _run(2, "bob"), _run(3, "bob"), _run(4, "carol", parent="run-3"), _run(5, "carol")]


def _store(path: Path) -> SQLiteReadStore:
    store = SQLiteReadStore(path)
    store.create_tables(all_projections())
    return store


def _tables(store: SQLiteReadStore) -> dict[str, list[dict[str, Any]]]:
    return {table.name: table_rows(store, table.name, ", ".join(table.primary_key)) for table in TABLES}


@pytest.mark.parametrize("runs_first", [True, False])
def test_runs_by_others_are_counted_whichever_log_is_applied_first(tmp_path: Path, runs_first: bool) -> None:
    store = _store(tmp_path / f"read-{runs_first}.sqlite3")
    projection = StoreListingsProjection()
    feeds = [("executions", RUNS), ("store", STORE)]
    for context, batch in feeds if runs_first else reversed(feeds):
        store.apply(projection, context, batch)
    store.apply(projection, "graphs", [_event("graphs", 1, Graph.VersionCreated, "other", version=2, content={})])
    queries = StoreQueries(store)
    page = queries.list_agents(
        featured=False, creator=None, search_query=None, category="math", sorted_by="runs", page=1, page_size=10
    )
    # alice's own run and carol's sub-agent run are not counted: bob's two and carol's top-level one are
    assert [(agent.slug, agent.runs) for agent in page.agents] == [("a", 3)]
    assert queries.generation() == 3 + 4  # three store events and four top-level runs; other graph events: none

    other = _store(tmp_path / "other.sqlite3")
    for context, batch in reversed(feeds) if runs_first else feeds:
        other.apply(projection, context, batch)
    assert _tables(other) == _tables(store)


def test_a_deleted_graph_leaves_the_store_and_moves_the_generation(tmp_path: Path) -> None:
    store = _store(tmp_path / "read.sqlite3")
    projection = StoreListingsProjection()
    store.apply(projection, "store", STORE)
    queries = StoreQueries(store)
    assert queries.approved_version(VERSION) is not None
    store.apply(projection, "graphs", [_event("graphs", 1, Graph.Deleted, GRAPH)])
    assert queries.approved_version(VERSION) is None
    assert queries.agent_details("nobody", "a") is None
    assert queries.generation() == 4
