"""StepThroughItemsBlock: AutoGPT's test vector, the three sources and the limits."""

import json
from typing import Any

import pytest

from domain.blocks.base import (
    BlockExecutionError,
    BlockInputError,
    BlockType,
)
from domain.blocks.iteration import StepThroughItemsBlock
from tests.unit.blocks.outputs import collect_outputs


async def outputs_of(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(StepThroughItemsBlock(), data)


async def outputs_until_failure(data: dict[str, Any]) -> tuple[list[tuple[str, Any]], BlockExecutionError]:
    """What the node yielded before it failed, and the failure."""
    produced: list[tuple[str, Any]] = []
    with pytest.raises(BlockExecutionError) as failure:
        async for pair in StepThroughItemsBlock().execute(data):
            produced.append(pair)
    return produced, failure.value


def test_block_identity_and_pins() -> None:
    block = StepThroughItemsBlock
    assert block.id == "f66a3543-28d3-4ab5-8945-9b336371e2ce"
    assert block.block_type is BlockType.STANDARD
    assert block.static_output is False
    assert block.description == "Iterates over a list or dictionary and outputs each item."
    assert [c["category"] for c in block.info()["categories"]] == ["LOGIC"]
    assert block.input_pins() == {"items", "items_object", "items_str"}
    assert block.Input.required_fields() == set()
    # AutoGPT keeps this block on the plain schema: no automatic error pin.
    assert block.output_pins() == {"item", "key"}


def test_inputs_default_to_empty_and_are_not_advanced() -> None:
    properties = StepThroughItemsBlock.Input.jsonschema()["properties"]
    assert properties["items"]["type"] == "array"
    assert properties["items_object"]["type"] == "object"
    assert properties["items_str"]["default"] == ""
    assert all(properties[name]["advanced"] is False for name in ("items", "items_object", "items_str"))
    defaults = StepThroughItemsBlock.Input.model_validate({})
    assert (defaults.items, defaults.items_object, defaults.items_str) == ([], {}, "")


async def test_autogpt_vector_steps_through_a_list_with_indices() -> None:
    given = {"items": [1, 2, 3, {"key1": "value1", "key2": "value2"}]}
    assert await outputs_of(given) == [
        ("item", 1),
        ("key", 0),
        ("item", 2),
        ("key", 1),
        ("item", 3),
        ("key", 2),
        ("item", {"key1": "value1", "key2": "value2"}),
        ("key", 3),
    ]


async def test_a_dictionary_yields_each_value_then_its_key() -> None:
    given = {"items_object": {"a": 1, "b": [2]}}
    assert await outputs_of(given) == [("item", 1), ("key", "a"), ("item", [2]), ("key", "b")]


@pytest.mark.parametrize(
    ("items_str", "expected"),
    [
        ('["x", "y"]', [("item", "x"), ("key", 0), ("item", "y"), ("key", 1)]),
        ('{"k": "v", "n": 2}', [("item", "v"), ("key", "k"), ("item", 2), ("key", "n")]),
        ('"ab"', [("item", "a"), ("key", 0), ("item", "b"), ("key", 1)]),
        ("[]", []),
    ],
    ids=["JSON list", "JSON object", "JSON string steps through characters", "empty JSON list"],
)
async def test_items_str_is_parsed_as_json(items_str: str, expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of({"items_str": items_str}) == expected


async def test_nothing_to_step_through_yields_nothing() -> None:
    assert await outputs_of({}) == []
    assert await outputs_of({"items": [], "items_object": {}, "items_str": ""}) == []


async def test_every_non_empty_source_is_stepped_through_in_order() -> None:
    given = {"items_str": '["s"]', "items_object": {"o": "O"}, "items": ["l"]}
    assert await outputs_of(given) == [
        ("item", "l"),
        ("key", 0),
        ("item", "O"),
        ("key", "o"),
        ("item", "s"),
        ("key", 0),
    ]


async def test_falsy_items_are_still_yielded() -> None:
    assert await outputs_of({"items": [0, "", None, False]}) == [
        ("item", 0),
        ("key", 0),
        ("item", ""),
        ("key", 1),
        ("item", None),
        ("key", 2),
        ("item", False),
        ("key", 3),
    ]


async def test_exactly_ten_thousand_items_are_all_yielded() -> None:
    outputs = await outputs_of({"items": list(range(10_000))})
    assert len(outputs) == 20_000
    assert outputs[-2:] == [("item", 9_999), ("key", 9_999)]


@pytest.mark.parametrize(
    "given",
    [
        {"items": list(range(10_001))},
        {"items_object": {str(i): i for i in range(10_001)}},
        {"items_str": json.dumps(list(range(10_001)))},
    ],
    ids=["list", "dict", "JSON list"],
)
async def test_more_than_ten_thousand_entries_fail_the_node(given: dict[str, Any]) -> None:
    produced, failure = await outputs_until_failure(given)
    assert produced == []
    assert "Too many items: 10001 > 10000" in str(failure)


async def test_items_str_longer_than_one_mebibyte_fails_before_parsing() -> None:
    oversized = '"' + "x" * (1024 * 1024) + '"'
    produced, failure = await outputs_until_failure({"items_str": oversized})
    assert produced == []
    assert "Input too large" in str(failure)


async def test_items_str_of_exactly_one_mebibyte_is_accepted_but_capped_at_ten_thousand() -> None:
    text = '"' + "x" * (1024 * 1024 - 2) + '"'
    outputs = await outputs_of({"items_str": text})
    # A JSON string is stepped through by character, and only the first
    # 10000 characters are yielded, without an error.
    assert len(outputs) == 20_000
    assert outputs[-1] == ("key", 9_999)


@pytest.mark.parametrize("items_str", ["[1, 2", "not json", "5"], ids=["truncated JSON", "not JSON", "JSON number"])
async def test_items_str_that_is_not_a_json_collection_fails_the_node(items_str: str) -> None:
    produced, _ = await outputs_until_failure({"items_str": items_str})
    assert produced == []


async def test_a_failing_later_source_comes_after_earlier_yields() -> None:
    produced, _ = await outputs_until_failure({"items": ["kept"], "items_str": "{broken"})
    assert produced == [("item", "kept"), ("key", 0)]


async def test_items_must_be_a_list() -> None:
    with pytest.raises(BlockInputError):
        await outputs_of({"items": {"a": 1}})
