"""Projection handlers keyed by the event classes the domain declares.

Envelopes carry an event's type as a name (``GraphExecution.Queued``); a
handler table is written with the classes themselves and looks handlers up
by the name the domain computes for each class (``domain.event_types``), so
no projection spells an event type out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from domain.event_types import EventType, type_name

H = TypeVar("H")


class EventHandlers(Generic[H]):
    """One handler per event type."""

    def __init__(self, handlers: Mapping[EventType, H]) -> None:
        self.types: frozenset[EventType] = frozenset(handlers)
        self._by_name = {type_name(event_type): handler for event_type, handler in handlers.items()}
        self.names: frozenset[str] = frozenset(self._by_name)

    def get(self, name: str) -> H | None:
        """The handler of the event type named ``name`` (an envelope's ``type``), if any."""
        return self._by_name.get(name)
