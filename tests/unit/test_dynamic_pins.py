"""Dynamic pins on both sides of a link."""

from __future__ import annotations

from typing import Any

import pytest

from domain.dynamic_pins import MISSING, extract_output, merge_dynamic_inputs


@pytest.mark.parametrize(
    ("yielded", "value", "link_pin", "received"),
    [
        ("result", {"key": 1}, "result", {"key": 1}),
        ("result", {"key": 1}, "result_#_key", 1),
        ("result", {"key": 1}, "result_#_other", MISSING),
        ("result", [10, 20, 30], "result_$_1", 20),
        ("result", [10, 20, 30], "result_$_-1", 30),
        ("result", [10, 20, 30], "result_$_7", MISSING),
        ("result", {"a": [{"b": "deep"}]}, "result_#_a_$_0_#_b", "deep"),
        ("result", {"name": "x"}, "result_@_name", "x"),
        ("output", 1, "result", MISSING),
        ("result", "text", "result_#_key", MISSING),
    ],
)
def test_a_link_takes_what_its_pin_names(yielded: str, value: Any, link_pin: str, received: Any) -> None:
    assert extract_output(yielded, value, link_pin) == received or received is MISSING
    if received is MISSING:
        assert extract_output(yielded, value, link_pin) is MISSING


def test_object_attributes_are_read() -> None:
    class Thing:
        colour = "red"

    assert extract_output("result", Thing(), "result_@_colour") == "red"


def test_dict_and_list_pins_merge_into_their_base_field() -> None:
    merged = merge_dynamic_inputs(
        {"format": "{{a}}", "values_#_a": 1, "values_#_b": 2, "items_$_1": "y", "items_$_0": "x"}
    )
    assert merged == {"format": "{{a}}", "values": {"a": 1, "b": 2}, "items": ["x", "y"]}


def test_dynamic_pins_merge_into_a_preset_value() -> None:
    merged = merge_dynamic_inputs({"values": {"preset": True}, "values_#_linked": 5})
    assert merged == {"values": {"preset": True, "linked": 5}}


def test_nested_dynamic_inputs() -> None:
    assert merge_dynamic_inputs({"values_#_people_$_0": "ann"}) == {"values": {"people": ["ann"]}}
