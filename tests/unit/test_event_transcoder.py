"""Events become plain JSON bytes: explicit transcodings, loud failures, old events still load."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)

from adapters.event_transcoder import PlainJSONTranscoder
from adapters.persistence import TRANSCODER
from domain.execution import GraphExecution
from domain.graph import Graph, GraphContent
from projections.envelope import envelope_from_stored

RUN_ID = UUID("187bff24-cf0a-4167-bbb3-e7b99f28094f")
GRAPH_ID = UUID("3eeeddb0-ffec-452e-9bb0-0b66dc892016")

# bytes exactly as the transcoder before tagged values wrote them (pydantic-core, fallback=str)
OLD_GRAPH_CREATED = (
    b'{"timestamp":"2026-12-05T07:11:55.561690Z","originator_topic":"domain.graph:Graph","user_id":"user-1",'
    b'"content":{"name":"calc","description":"adds","instructions":null,"recommended_schedule_cron":null,'
    b'"forked_from_id":null,"forked_from_version":null,"nodes":[],"links":[]}}'
)
OLD_RUN_REQUESTED = (
    b'{"timestamp":"2026-12-05T07:11:55.561914Z","originator_topic":"domain.execution:GraphExecution",'
    b'"graph_id":"3eeeddb0-ffec-452e-9bb0-0b66dc892016","graph_version":1,"user_id":"user-1",'
    b'"inputs":{"a":1.5,"ratio":Infinity},"credentials_inputs":{},"nodes_input_masks":{},'
    b'"parent_execution_id":null,"parent_node_exec_id":null}'
)
OLD_RUN_QUEUED = b'{"timestamp":"2026-12-05T07:11:55.562015Z"}'


@pytest.fixture
def transcoder() -> PlainJSONTranscoder:
    return PlainJSONTranscoder()


def round_trip(transcoder: PlainJSONTranscoder, state: dict[str, object]) -> tuple[dict[str, object], object]:
    data = transcoder.encode(state)
    return transcoder.decode(data), json.loads(data)


def test_a_decimal_amount_reads_back_as_the_same_decimal(transcoder: PlainJSONTranscoder) -> None:
    decoded, stored = round_trip(transcoder, {"amount": Decimal("1.50"), "amounts": [Decimal("-0.001")]})

    assert decoded == {"amount": Decimal("1.50"), "amounts": [Decimal("-0.001")]}
    assert str(decoded["amount"]) == "1.50"  # the scale survives, not only the value
    assert stored["amount"] == {"_type_": "decimal_str", "_data_": "1.50"}


def test_a_uuid_reads_back_as_a_uuid(transcoder: PlainJSONTranscoder) -> None:
    decoded, stored = round_trip(transcoder, {"run": RUN_ID, "nested": {"graphs": (GRAPH_ID,)}})

    assert decoded == {"run": RUN_ID, "nested": {"graphs": [GRAPH_ID]}}
    assert isinstance(decoded["run"], UUID)
    assert stored["run"] == {"_type_": "uuid_hex", "_data_": RUN_ID.hex}


def test_a_datetime_reads_back_as_the_same_aware_datetime(transcoder: PlainJSONTranscoder) -> None:
    due = datetime(2026, 3, 1, 9, 30, 15, 250, tzinfo=timezone(timedelta(hours=2)))

    decoded, stored = round_trip(transcoder, {"due": due})

    assert decoded == {"due": due}
    assert decoded["due"].utcoffset() == timedelta(hours=2)  # type: ignore[attr-defined]
    assert stored["due"] == {"_type_": "datetime_iso", "_data_": "2026-03-01T09:30:15.000250+02:00"}


def test_the_event_timestamp_stays_a_plain_iso_string_that_envelopes_read(transcoder: PlainJSONTranscoder) -> None:
    graph = Graph.create("user-1", GraphContent.model_validate({"name": "calc", "nodes": [], "links": []}))
    [created] = graph.collect_events()
    stored = Mapper[UUID](transcoder=transcoder).to_stored_event(created)

    raw = json.loads(stored.state)
    envelope = envelope_from_stored("graphs", 1, stored.originator_id, 1, stored.topic, stored.state)

    assert raw["timestamp"] == created.timestamp.isoformat().replace("+00:00", "Z")
    assert datetime.fromisoformat(envelope.timestamp) == created.timestamp
    assert envelope.data["user_id"] == "user-1"
    assert Mapper[UUID](transcoder=transcoder).to_domain_event(stored).__dict__ == created.__dict__


def test_plain_values_are_stored_as_they_are(transcoder: PlainJSONTranscoder) -> None:
    state = {"text": "é", "n": 3, "x": 0.5, "ok": True, "none": None, "list": [1, [2]], "inf": float("inf")}

    data = transcoder.encode(state)

    assert data == b'{"text":"\xc3\xa9","n":3,"x":0.5,"ok":true,"none":null,"list":[1,[2]],"inf":Infinity}'
    assert transcoder.decode(data) == state


class Colour(Enum):
    RED = "red"


class Opaque:
    pass


@pytest.mark.parametrize(
    ("value", "type_name", "where"),
    [
        ({1, 2}, "builtins.set", "event.value"),
        (b"raw", "builtins.bytes", "event.value"),
        (Colour.RED, "Colour", "event.value"),
        ({"deep": [1, Opaque()]}, "Opaque", "event.value.deep[1]"),
        (datetime(2026, 1, 1, tzinfo=UTC).date(), "datetime.date", "event.value"),
        ({"stats": {7: "seven"}}, "builtins.int", "event.value.stats"),
    ],
)
def test_an_unknown_type_fails_at_write_time_naming_the_type_and_where_it_sits(
    transcoder: PlainJSONTranscoder, value: object, type_name: str, where: str
) -> None:
    with pytest.raises(TypeError) as raised:
        transcoder.encode({"timestamp": datetime.now(UTC), "value": value})

    assert type_name in str(raised.value)
    assert f"at {where}:" in str(raised.value)


def test_recording_an_event_with_an_unknown_type_fails_in_the_command() -> None:
    execution = GraphExecution.request(graph_id=str(GRAPH_ID), graph_version=1, user_id="u", inputs={"a": {1, 2}})
    mapper = Mapper[UUID](transcoder=PlainJSONTranscoder())

    with pytest.raises(TypeError, match=r"builtins\.set at event\.inputs\.a"):
        [mapper.to_stored_event(event) for event in execution.collect_events()]


def test_a_user_dict_shaped_like_a_tag_reads_back_unchanged(transcoder: PlainJSONTranscoder) -> None:
    lookalike = {"_type_": "decimal_str", "_data_": "1.50"}

    decoded, _ = round_trip(transcoder, {"inputs": lookalike, "nested": [{"_type_": "x", "_data_": RUN_ID}]})

    assert decoded == {"inputs": lookalike, "nested": [{"_type_": "x", "_data_": RUN_ID}]}


def test_an_old_user_dict_with_an_unknown_tag_name_still_loads(transcoder: PlainJSONTranscoder) -> None:
    assert transcoder.decode(b'{"inputs":{"_type_":"point","_data_":[1,2]}}') == {
        "inputs": {"_type_": "point", "_data_": [1, 2]}
    }


def test_events_stored_by_the_earlier_transcoder_still_load_into_aggregates() -> None:
    mapper = Mapper[UUID](transcoder=PlainJSONTranscoder())

    def load(aggregate_id: UUID, version: int, topic: str, state: bytes) -> object:
        return mapper.to_domain_event(StoredEvent(aggregate_id, version, topic, state))

    created = load(GRAPH_ID, 1, "domain.graph:Graph.Created", OLD_GRAPH_CREATED)
    graph = created.mutate(None)  # type: ignore[attr-defined]
    requested = load(RUN_ID, 1, "domain.execution:GraphExecution.Requested", OLD_RUN_REQUESTED)
    queued = load(RUN_ID, 2, "domain.execution:GraphExecution.Queued", OLD_RUN_QUEUED)
    run = queued.mutate(requested.mutate(None))  # type: ignore[attr-defined]

    assert graph.id == GRAPH_ID and graph.user_id == "user-1" and graph.content().name == "calc"
    assert graph.created_on == datetime(2026, 12, 5, 7, 11, 55, 561690, tzinfo=UTC)
    assert run.id == RUN_ID and run.status == "QUEUED" and run.graph_id == str(GRAPH_ID)
    assert run.inputs == {"a": 1.5, "ratio": float("inf")}
    assert queued.timestamp == datetime(2026, 12, 5, 7, 11, 55, 562015, tzinfo=UTC)


def test_the_librarys_own_transcoder_reads_the_tagged_values(transcoder: PlainJSONTranscoder) -> None:
    library = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        library.register(transcoding)
    state = {"amount": Decimal("2.5"), "run": RUN_ID, "at": datetime(2026, 1, 2, tzinfo=UTC)}

    assert library.decode(transcoder.encode(state)) == state


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (other.x, other.y) == (self.x, self.y)

    __hash__ = None  # type: ignore[assignment]


class PointAsList(Transcoding):
    type = Point
    name = "point"

    def encode(self, obj: Point) -> list[int]:
        return [obj.x, obj.y]

    def decode(self, data: list[int]) -> Point:
        return Point(*data)


def test_a_registered_transcoding_is_used_for_its_type(transcoder: PlainJSONTranscoder) -> None:
    transcoder.register(PointAsList())

    decoded, stored = round_trip(transcoder, {"at": Point(1, 2)})

    assert decoded == {"at": Point(1, 2)}
    assert stored == {"at": {"_type_": "point", "_data_": [1, 2]}}


class Marker(Aggregate):
    @event("Placed")
    def __init__(self, at: Point) -> None:
        self.at = at


class MarkerApplication(Application[UUID]):
    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(PointAsList())


ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo", "TRANSCODER_TOPIC": TRANSCODER}


def test_an_application_adds_types_through_the_librarys_registration_hook() -> None:
    app = MarkerApplication(env=ENV)
    marker = Marker(Point(1, 2))

    app.save(marker)

    assert app.repository.get(marker.id).at == Point(1, 2)


def test_an_application_without_the_registration_refuses_to_save() -> None:
    app = Application[UUID](env=ENV)

    with pytest.raises(TypeError, match=r"test_event_transcoder\.Point at event\.at"):
        app.save(Marker(Point(1, 2)))
