"""The event envelope every projection consumes, whatever carried the event.

The same envelope is what the relay publishes to Kafka (as JSON), what the
in-process dispatcher builds from a notification log, and what a rebuild
replays from the event store, so projection code never knows its transport.
CloudEvents-style field names: ``id``, ``type``, ``source`` (the context),
``time``; plus the aggregate and its version, and the event's position in
its context's log (the only order projections rely on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

from domain.event_types import type_from_topic, type_name
from domain.execution import ExecutionStopRequest
from domain.json_codec import decode

_STOP_REQUESTED = type_name(ExecutionStopRequest.Requested)

TYPE_KEY = "_type_"
DATA_KEY = "_data_"
ESCAPED_DICT = "dict"
METADATA_KEY = "_metadata_"
"""The reserved top-level key of a stored event's JSON holding who acted (``application.command_metadata``):
``{"user_id", "api_key_id", "request_id"}``, each only when known; events stored before it have none."""
"""The stored form of a value that is not plain JSON: ``{"_type_": name, "_data_": ...}`` (``adapters.event_transcoder``
writes it; ``ESCAPED_DICT`` tags a user's dict that itself looks like a tag)."""

_TAG_MARKER = f'"{TYPE_KEY}"'.encode()


def _untagged(obj: dict[str, Any]) -> Any:
    """A tagged value as plain JSON: envelopes (and so read models and Kafka) carry no tags.

    Decimals and datetimes keep their exact text, UUIDs their canonical form,
    an escaped user dict its own items; an unknown tag is left as stored.
    """
    if len(obj) != 2 or TYPE_KEY not in obj or DATA_KEY not in obj:
        return obj
    name, data = obj[TYPE_KEY], obj[DATA_KEY]
    if name == ESCAPED_DICT:
        return dict(data)
    if name == UUIDAsHex.name:
        return str(UUID(data))
    if name in (DecimalAsStr.name, DatetimeAsISO.name):
        return data
    return obj


@dataclass(frozen=True)
class EventEnvelope:
    """One stored event, in transport-neutral form."""

    id: str
    type: str
    context: str
    aggregate_id: str
    aggregate_version: int
    position: int
    timestamp: str
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    """Who caused the event: ``user_id``, ``api_key_id``, ``request_id`` when known (empty for older events)."""

    @property
    def routing_key(self) -> str:
        """What the event is keyed (and so partitioned) by: its run for a stop request, else its aggregate.

        A stop request is its own aggregate but must reach whoever owns the
        run's partition, so it travels on the run's key.
        """
        if self.type == _STOP_REQUESTED and "execution_id" in self.data:
            return str(self.data["execution_id"])
        return self.aggregate_id

    def as_json(self) -> dict[str, Any]:
        """The envelope as the relay publishes it."""
        return {
            "id": self.id,
            "type": self.type,
            "context": self.context,
            "aggregate_id": self.aggregate_id,
            "aggregate_version": self.aggregate_version,
            "position": self.position,
            "timestamp": self.timestamp,
            "data": self.data,
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> EventEnvelope:
        """The envelope from its published JSON form."""
        return cls(
            id=str(body["id"]),
            type=str(body["type"]),
            context=str(body["context"]),
            aggregate_id=str(body["aggregate_id"]),
            aggregate_version=int(body["aggregate_version"]),
            position=int(body["position"]),
            timestamp=str(body["timestamp"]),
            data=dict(body.get("data") or {}),
            metadata=dict(body.get("metadata") or {}),
        )


def event_id(aggregate_id: str, version: int) -> str:
    """A stable id per stored event (the same on every redelivery): ``<aggregate id>:<version>``."""
    return f"{aggregate_id}:{version}"


def envelope_from_stored(
    context: str, position: int, aggregate_id: UUID | str, version: int, topic: str, state: bytes
) -> EventEnvelope:
    """Build the envelope of one stored event (plain-JSON state, see adapters.event_transcoder)."""
    # most events hold no tag: no walk over the value then
    data = decode(state, _untagged) if _TAG_MARKER in state else decode(state)
    timestamp = str(data.pop("timestamp", ""))
    metadata = data.pop(METADATA_KEY, None)
    aggregate = str(aggregate_id)
    return EventEnvelope(
        id=event_id(aggregate, version),
        type=type_from_topic(topic),
        context=context,
        aggregate_id=aggregate,
        aggregate_version=version,
        position=position,
        timestamp=timestamp,
        data=data,
        metadata=dict(metadata) if isinstance(metadata, dict) else {},
    )
