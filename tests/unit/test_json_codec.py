"""One JSON codec: whatever it writes it reads back, and what it cannot read back it never writes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from adapters.event_transcoder import PlainJSONTranscoder
from adapters.persistence import sqlite_env
from domain.execution import GraphExecution
from domain.json_codec import (
    DECODER_DEPTH,
    MAX_JSON_BYTES,
    MAX_JSON_DEPTH,
    MAX_JSON_ITEMS,
    MAX_JSON_STRING_CHARS,
    MAX_STORED_DEPTH,
    JSONLimitError,
    check_json_limits,
    decode,
    encode,
)
from projections.envelope import envelope_from_stored


def nested(depth: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``depth`` levels of objects."""
    value = leaf
    for _ in range(depth):
        value = {"x": value}
    return value


def test_the_decoder_reads_exactly_as_deep_as_the_codec_says() -> None:
    # pins pydantic-core's fixed parser limit: an upgrade that changes it must change DECODER_DEPTH
    assert decode(encode(nested(DECODER_DEPTH))) == nested(DECODER_DEPTH)
    with pytest.raises(ValueError, match="recursion limit"):
        from_json(b'{"x":' * (DECODER_DEPTH + 1) + b"1" + b"}" * (DECODER_DEPTH + 1))


@pytest.mark.parametrize("depth", [DECODER_DEPTH + 1, 230, 254, 300, 900])
def test_a_value_the_decoder_could_not_read_back_is_refused_by_the_encoder(depth: int) -> None:
    with pytest.raises(JSONLimitError) as refused:
        encode(nested(depth))
    assert refused.value.limit == "stored_depth"
    assert f"deeper than {DECODER_DEPTH} levels" in str(refused.value)


def test_the_deepest_event_the_store_writes_still_travels_in_an_envelope() -> None:
    transcoder = PlainJSONTranscoder()
    with pytest.raises(JSONLimitError):
        transcoder.encode(nested(MAX_STORED_DEPTH + 1))
    data = transcoder.encode(nested(MAX_STORED_DEPTH))
    # the relay wraps an event's data one level deeper: still written, still read
    assert decode(encode({"data": decode(data)})) == {"data": nested(MAX_STORED_DEPTH)}


def test_text_that_is_not_unicode_is_refused_by_the_encoder() -> None:
    with pytest.raises(JSONLimitError, match="lone surrogate"):
        encode({"text": "a\ud800b"})


def test_a_run_input_nested_230_deep_never_reaches_the_event_store(tmp_path: Path) -> None:
    """Finding 1: such an event was stored, and every projection then failed on it for good."""
    store = Application[UUID](sqlite_env(tmp_path, "events"))
    run = GraphExecution.request(graph_id="g", graph_version=1, user_id="alice", inputs={"Input": nested(230)})

    with pytest.raises(JSONLimitError, match="deeper than"):
        store.save(run)

    assert store.recorder.max_notification_id() in (None, 0)


def test_an_event_the_store_accepts_is_readable_by_every_consumer(tmp_path: Path) -> None:
    store = Application[UUID](sqlite_env(tmp_path, "events"))
    run = GraphExecution.request(graph_id="g", graph_version=1, user_id="alice", inputs={"Input": nested(150)})
    store.save(run)

    stored = store.recorder.select_notifications(start=1, limit=10)[0]
    envelope = envelope_from_stored("executions", 1, stored.originator_id, 1, stored.topic, stored.state)

    assert envelope.data["inputs"] == {"Input": nested(150)}
    assert decode(encode(envelope.as_json()))["data"]["inputs"] == {"Input": nested(150)}
    assert store.repository.get(run.id).inputs == {"Input": nested(150)}


def test_anything_the_edge_accepts_can_be_stored_even_dicts_shaped_like_stored_tags() -> None:
    # a user dict shaped like a tag is escaped as three levels: the worst case the stored depth must hold
    tag_shaped: Any = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        tag_shaped = {"_type_": "x", "_data_": tag_shaped}
    state = {"inputs": {"Input": check_json_limits(tag_shaped)}}

    transcoder = PlainJSONTranscoder()
    assert transcoder.decode(transcoder.encode(state)) == state


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        (nested(MAX_JSON_DEPTH + 1), "max_depth"),
        ([nested(MAX_JSON_DEPTH)], "max_depth"),
        ("x" * (MAX_JSON_STRING_CHARS + 1), "max_string_chars"),
        ({"k" * (MAX_JSON_STRING_CHARS + 1): 1}, "max_string_chars"),
        (list(range(MAX_JSON_ITEMS + 1)), "max_items"),
        ({str(i): i for i in range(MAX_JSON_ITEMS + 1)}, "max_items"),
        (["x" * (MAX_JSON_STRING_CHARS // 2)] * 5, "max_bytes"),
        ({"text": "a\x00b"}, "nul_character"),
        ({"a\x00": 1}, "nul_character"),
        ({"text": "a\ud800"}, "unicode"),
    ],
    ids=["depth", "depth in a list", "string", "key", "list", "object", "bytes", "NUL", "NUL key", "surrogate"],
)
def test_each_limit_is_named_when_a_value_breaks_it(value: Any, limit: str) -> None:
    with pytest.raises(JSONLimitError) as refused:
        check_json_limits(value)
    assert refused.value.limit == limit


def test_a_value_at_every_limit_is_accepted() -> None:
    at_limits = {
        "deep": nested(MAX_JSON_DEPTH - 1),
        "text": "x" * MAX_JSON_STRING_CHARS,
        "items": [0] * (MAX_JSON_ITEMS - 10),
    }
    assert check_json_limits(at_limits) is at_limits
    assert len(encode(at_limits)) <= MAX_JSON_BYTES


def test_the_error_says_where_the_value_is() -> None:
    with pytest.raises(JSONLimitError) as refused:
        check_json_limits({"graph": {"nodes": [{"input_default": {"text": "x" * (MAX_JSON_STRING_CHARS + 1)}}]}})
    assert refused.value.path == ("graph", "nodes", 0, "input_default", "text")
    assert str(refused.value).endswith("(at value.graph.nodes[0].input_default.text)")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(exclude_categories=())),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    return a == b and type(a) is type(b)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, st.integers(min_value=0, max_value=260))
def test_whatever_the_event_store_writes_reads_back_the_same_everywhere(value: Any, depth: int) -> None:
    value = nested(depth, value)
    try:
        data = encode(value, max_depth=MAX_STORED_DEPTH)
    except JSONLimitError:
        return  # refused: nothing is written
    assert _same(decode(data), value)
    # and in the envelope the relay publishes
    assert _same(decode(encode({"data": value}))["data"], value)
