"""Every event type the domain declares is handled or explicitly ignored by each projection of its context."""

from __future__ import annotations

import pytest
from eventsourcing.domain import Aggregate, event

from domain.event_types import CONTEXT_AGGREGATES, declared_event_types, type_name
from domain.execution import GraphExecution
from domain.graph import Graph
from projections.base import Projection, UnaccountedEventTypeError, accounted_for
from projections.envelope import envelope_from_stored
from projections.graphs.projection import GraphsProjection
from projections.registry import all_projections


@pytest.mark.parametrize("projection", all_projections(), ids=lambda p: p.name)
def test_a_projection_accounts_for_every_event_type_of_its_contexts(projection: Projection) -> None:
    assert projection.contexts <= CONTEXT_AGGREGATES.keys(), "a projection follows a context the domain does not know"
    assert accounted_for(projection) is projection


def test_a_projection_that_misses_an_event_type_stops_the_registry() -> None:
    class Forgetful(GraphsProjection):
        handles = GraphsProjection.handles - {Graph.Deleted}

    with pytest.raises(UnaccountedEventTypeError, match=r"neither handles nor ignores \['Graph.Deleted'\]"):
        accounted_for(Forgetful())


def test_an_event_type_a_new_aggregate_declares_is_found() -> None:
    """What the coverage test relies on: a newly declared event type shows up, the library's generic ones do not."""

    class Account(Aggregate):
        class Opened(Aggregate.Created):
            owner: str

        @event(Opened)
        def __init__(self, owner: str) -> None:
            self.owner = owner
            self.credits = 0

        @event("CreditsAdded")
        def add_credits(self, amount: int) -> None:
            self.credits += amount

        class Closed(Aggregate.Event):
            reason: str

        @event(Closed)
        def _closed(self, reason: str) -> None:
            self.credits = 0

    class Session(Aggregate):
        @event("Renewed")
        def renew(self) -> None:
            pass

    assert {t.__name__ for t in declared_event_types(Account)} == {"Opened", "CreditsAdded", "Closed"}
    assert {t.__name__ for t in declared_event_types(Session)} == {"Renewed"}


def test_the_names_projections_dispatch_on_are_those_of_stored_events() -> None:
    queued = envelope_from_stored(
        "executions", 7, "00000000-0000-0000-0000-000000000001", 2, "domain.execution:GraphExecution.Queued", b"{}"
    )
    assert queued.type == type_name(GraphExecution.Queued)
