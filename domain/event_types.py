"""The event types each context records, and the one rule that names them.

An event type's name is its topic without the module, e.g.
``GraphExecution.Queued``: what an envelope carries as ``type``, what the
relay publishes and what projections dispatch on. It is always computed
from the class the domain declares, never written out elsewhere, so a
renamed event class cannot silently leave a read model behind.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from domain.api_key import ApiKey
from domain.credentials import IntegrationCredentials
from domain.credit_ledger import CreditLedger
from domain.data_key import UserDataKey
from domain.execution import ExecutionStopRequest, GraphExecution
from domain.graph import Graph
from domain.library_agent import LibraryAgent
from domain.notification_preferences import NotificationPreferences
from domain.preset import AgentPreset
from domain.schedule import Schedule
from domain.store_listing import StoreListing
from domain.store_profile import StoreProfile, StoreUsername
from domain.store_review import StoreReview

EventType = type[Aggregate.Event]
"""An event class an aggregate declares."""


def type_from_topic(topic: str) -> str:
    """``domain.execution:GraphExecution.Queued`` -> ``GraphExecution.Queued``."""
    return topic.rsplit(":", 1)[-1]


def type_name(event_type: type) -> str:
    """The name envelopes carry for ``event_type``, e.g. ``GraphExecution.Queued`` (its topic without the module)."""
    return event_type.__qualname__


def declared_event_types(aggregate: type[Aggregate]) -> tuple[EventType, ...]:
    """The event types ``aggregate`` declares (event classes, and events named by ``@event("Name")``).

    The library also puts a generic ``Event`` (and, unless the aggregate
    declares its own, a generic ``Created``) on every aggregate, derived
    straight from its own base classes; they are never recorded, so they are
    left out.
    """
    generic_bases = (Aggregate.Event, Aggregate.Created)
    return tuple(
        value
        for value in vars(aggregate).values()
        if isinstance(value, type)
        and issubclass(value, Aggregate.Event)
        and not any(base in generic_bases for base in value.__bases__)
    )


CONTEXT_AGGREGATES: dict[str, tuple[type[Aggregate], ...]] = {
    "graphs": (Graph,),
    "executions": (GraphExecution, ExecutionStopRequest),
    "accounts": (
        ApiKey,
        CreditLedger,
        IntegrationCredentials,
        UserDataKey,
        LibraryAgent,
        AgentPreset,
        NotificationPreferences,
    ),
    "schedules": (Schedule,),
    "store": (StoreListing, StoreProfile, StoreReview, StoreUsername),
}
"""The aggregates whose events each context's log holds."""


def context_event_types(context: str) -> tuple[EventType, ...]:
    """Every event type recorded in ``context``'s log (none for a context without aggregates yet)."""
    return tuple(
        event_type
        for aggregate in CONTEXT_AGGREGATES.get(context, ())
        for event_type in declared_event_types(aggregate)
    )


def events_of_other_aggregates(context: str, *aggregates: type[Aggregate]) -> frozenset[EventType]:
    """The event types of ``context``'s aggregates other than ``aggregates``: what a read model of those ignores."""
    return frozenset(
        event_type
        for aggregate in CONTEXT_AGGREGATES.get(context, ())
        if aggregate not in aggregates
        for event_type in declared_event_types(aggregate)
    )
