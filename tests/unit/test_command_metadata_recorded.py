"""Who acted is written with every event, stripped for the domain, and exposed on the envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

from adapters.event_transcoder import PlainJSONTranscoder
from application import command_metadata
from projections.envelope import METADATA_KEY, EventEnvelope, envelope_from_stored

STATE = {"user_id": "alice", "timestamp": datetime(2026, 1, 1, tzinfo=UTC), "originator_version": 1}


def test_an_event_written_during_a_command_carries_its_metadata() -> None:
    transcoder = PlainJSONTranscoder()
    with command_metadata.acting(user_id="alice", api_key_id="k1", request_id="r1"):
        stored = transcoder.encode(dict(STATE))
    assert json.loads(stored)[METADATA_KEY] == {"user_id": "alice", "api_key_id": "k1", "request_id": "r1"}
    assert METADATA_KEY not in transcoder.decode(stored)  # the domain never sees it
    envelope = envelope_from_stored("graphs", 1, uuid4(), 1, "domain.graph:Graph.Created", stored)
    assert envelope.metadata == {"user_id": "alice", "api_key_id": "k1", "request_id": "r1"}
    assert METADATA_KEY not in envelope.data
    assert EventEnvelope.from_json(json.loads(json.dumps(envelope.as_json()))) == envelope


def test_events_without_metadata_read_as_before() -> None:
    transcoder = PlainJSONTranscoder()
    stored = transcoder.encode(dict(STATE))  # outside a request: nothing set
    assert METADATA_KEY.encode() not in stored
    assert transcoder.decode(stored)["user_id"] == "alice"
    envelope = envelope_from_stored("graphs", 1, uuid4(), 1, "domain.graph:Graph.Created", stored)
    assert envelope.metadata == {}
    old_published = envelope.as_json()
    del old_published["metadata"]  # what a relay published before the field existed
    assert EventEnvelope.from_json(old_published).metadata == {}
