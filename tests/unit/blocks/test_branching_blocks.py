"""ConditionBlock and IfInputMatchesBlock: AutoGPT's test vectors and the edge cases it documents."""

import math
from typing import Any

import pytest

from domain.blocks.base import (
    Block,
    BlockExecutionError,
    BlockInputError,
    BlockType,
    RunContext,
)
from domain.blocks.branching import ComparisonOperator, ConditionBlock, IfInputMatchesBlock
from tests.unit.blocks.outputs import collect_outputs


async def outputs_of(block: Block, data: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(block, data)


# --- the blocks' identity and pins -------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "block_id", "inputs", "required"),
    [
        (
            ConditionBlock,
            "715696a0-e1da-45c8-b209-c2fa9c3b0be6",
            {"value1", "operator", "value2", "yes_value", "no_value"},
            {"value1", "operator", "value2"},
        ),
        (
            IfInputMatchesBlock,
            "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2",
            {"input", "value", "yes_value", "no_value"},
            {"input", "value"},
        ),
    ],
)
def test_block_identity_and_pins(block_cls: type[Block], block_id: str, inputs: set[str], required: set[str]) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    # AutoGPT's branching blocks are on the plain schema: no automatic error pin.
    assert block_cls.output_pins() == {"result", "yes_output", "no_output"}
    assert block_cls.description == "Handles conditional logic based on comparison operators"
    assert [c["category"] for c in block_cls.info()["categories"]] == ["LOGIC"]


def test_condition_schema_offers_autogpt_operators_and_null_defaults() -> None:
    properties = ConditionBlock.Input.jsonschema()["properties"]
    assert properties["operator"]["enum"] == ["==", "!=", ">", "<", ">=", "<="]
    assert [op.value for op in ComparisonOperator] == ["==", "!=", ">", "<", ">=", "<="]
    assert properties["yes_value"]["default"] is None
    assert properties["no_value"]["default"] is None
    assert properties["no_value"]["placeholder"] == "Leave empty to use value1, or enter a specific value"


# --- ConditionBlock ------------------------------------------------------------------


async def test_condition_autogpt_vector_routes_greater_to_yes() -> None:
    given = {"value1": 10, "operator": ">", "value2": 5, "yes_value": "Greater", "no_value": "Not greater"}
    assert await outputs_of(ConditionBlock(), given) == [("result", True), ("yes_output", "Greater")]


@pytest.mark.parametrize(
    ("value1", "operator", "value2", "expected"),
    [
        (3, "==", 3, True),
        (3, "==", 4, False),
        (3, "!=", 4, True),
        (3, "!=", 3, False),
        (5, ">", 3, True),
        (3, ">", 3, False),
        (2, "<", 3, True),
        (3, "<", 3, False),
        (3, ">=", 3, True),
        (2, ">=", 3, False),
        (3, "<=", 3, True),
        (4, "<=", 3, False),
    ],
)
async def test_condition_applies_each_operator(value1: int, operator: str, value2: int, expected: bool) -> None:
    given = {"value1": value1, "operator": operator, "value2": value2, "yes_value": "yes", "no_value": "no"}
    expected_branch = ("yes_output", "yes") if expected else ("no_output", "no")
    assert await outputs_of(ConditionBlock(), given) == [("result", expected), expected_branch]


@pytest.mark.parametrize(
    ("value1", "operator", "value2", "expected"),
    [
        ("10", ">", "9", True),
        (" 10 ", "==", 10, True),
        ("2.5", "<", 3, True),
        ("1e3", "==", "1000", True),
        (" hello ", "==", "hello", True),
        ("apple", "<", "banana", True),
    ],
    ids=[
        "numeric strings compare as numbers",
        "padded number string equals the number",
        "decimal string",
        "exponent notation",
        "strings are stripped",
        "other strings compare as strings",
    ],
)
async def test_condition_converts_string_operands(value1: Any, operator: str, value2: Any, expected: bool) -> None:
    outputs = await outputs_of(ConditionBlock(), {"value1": value1, "operator": operator, "value2": value2})
    assert outputs[0] == ("result", expected)


async def test_condition_without_yes_value_yields_value1_as_converted() -> None:
    given = {"value1": " 10 ", "operator": ">", "value2": "5"}
    assert await outputs_of(ConditionBlock(), given) == [("result", True), ("yes_output", 10.0)]


async def test_condition_without_yes_value_yields_stripped_text() -> None:
    given = {"value1": "  cat ", "operator": "==", "value2": "cat"}
    assert await outputs_of(ConditionBlock(), given) == [("result", True), ("yes_output", "cat")]


async def test_condition_without_no_value_yields_value2_despite_the_field_text() -> None:
    given = {"value1": 1, "operator": ">", "value2": "7"}
    assert await outputs_of(ConditionBlock(), given) == [("result", False), ("no_output", 7.0)]


@pytest.mark.parametrize("falsy", [0, "", False, []], ids=["0", "empty string", "False", "empty list"])
async def test_condition_falsy_yes_and_no_values_are_used_as_given(falsy: Any) -> None:
    yes = {"value1": 2, "operator": ">", "value2": 1, "yes_value": falsy}
    no = {"value1": 1, "operator": ">", "value2": 2, "no_value": falsy}
    assert await outputs_of(ConditionBlock(), yes) == [("result", True), ("yes_output", falsy)]
    assert await outputs_of(ConditionBlock(), no) == [("result", False), ("no_output", falsy)]


async def test_condition_yields_exactly_one_branch() -> None:
    outputs = await outputs_of(ConditionBlock(), {"value1": 1, "operator": "==", "value2": 1})
    assert [pin for pin, _ in outputs] == ["result", "yes_output"]
    outputs = await outputs_of(ConditionBlock(), {"value1": 1, "operator": "==", "value2": 2})
    assert [pin for pin, _ in outputs] == ["result", "no_output"]


async def test_condition_compares_booleans_with_numbers_as_python_does() -> None:
    given = {"value1": True, "operator": "==", "value2": "1"}
    assert await outputs_of(ConditionBlock(), given) == [("result", True), ("yes_output", True)]


async def test_condition_incomparable_values_fail_the_node_before_any_output() -> None:
    produced: list[tuple[str, Any]] = []
    with pytest.raises(BlockExecutionError):
        async for pair in ConditionBlock().execute({"value1": 10, "operator": ">", "value2": "abc"}):
            produced.append(pair)
    assert produced == []


async def test_condition_incomparable_values_raise_type_error_from_run() -> None:
    data = ConditionBlock.Input.model_validate({"value1": [1], "operator": "<", "value2": {"a": 1}})
    with pytest.raises(TypeError):
        [pair async for pair in ConditionBlock().run(data, RunContext())]


@pytest.mark.parametrize(
    "given",
    [
        {"value1": 1, "operator": "===", "value2": 1},
        {"value1": 1, "value2": 1},
        {"value1": None, "operator": "==", "value2": 1},
        {"operator": "==", "value2": 1},
    ],
    ids=["unknown operator", "missing operator", "value1 is None", "missing value1"],
)
async def test_condition_rejects_bad_input(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(ConditionBlock(), given)


# --- IfInputMatchesBlock -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"input": 10, "value": 10, "yes_value": "Greater", "no_value": "Not greater"},
            [("result", True), ("yes_output", "Greater")],
        ),
        (
            {"input": 10, "value": 20, "yes_value": "Greater", "no_value": "Not greater"},
            [("result", False), ("no_output", "Not greater")],
        ),
    ],
    ids=["matching input", "different input"],
)
async def test_if_input_matches_autogpt_vectors(given: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of(IfInputMatchesBlock(), given) == expected


async def test_if_input_matches_autogpt_vector_against_none() -> None:
    """AutoGPT's third vector compares 10 with value None.

    The platform drops None inputs before validation, so through the normal
    path the required `value` is missing; the block's own logic, run on that
    input directly, does not match.
    """
    given = {"input": 10, "value": None, "yes_value": "Yes", "no_value": "No"}
    data = IfInputMatchesBlock.Input.model_validate(given)
    outputs = [pair async for pair in IfInputMatchesBlock().run(data, RunContext())]
    assert outputs == [("result", False), ("no_output", "No")]
    with pytest.raises(BlockInputError):
        await outputs_of(IfInputMatchesBlock(), given)


@pytest.mark.parametrize(
    ("input_value", "value", "matches"),
    [
        (10, "10", False),
        ("10", 10, False),
        (10, 10.0, True),
        (1, True, True),
        ("Hello", "hello", False),
        ({"a": [1, 2]}, {"a": [1, 2]}, True),
        ([1, 2], [2, 1], False),
    ],
    ids=[
        "number vs text: no coercion",
        "text vs number: no coercion",
        "int equals float",
        "1 equals True",
        "case matters",
        "equal dicts",
        "order matters in lists",
    ],
)
async def test_if_input_matches_uses_plain_equality(input_value: Any, value: Any, matches: bool) -> None:
    outputs = await outputs_of(
        IfInputMatchesBlock(), {"input": input_value, "value": value, "yes_value": "Y", "no_value": "N"}
    )
    assert outputs == ([("result", True), ("yes_output", "Y")] if matches else [("result", False), ("no_output", "N")])


async def test_if_input_matches_the_same_nan_object_by_identity() -> None:
    nan = math.nan
    outputs = await outputs_of(IfInputMatchesBlock(), {"input": nan, "value": nan, "yes_value": "same"})
    assert outputs == [("result", True), ("yes_output", "same")]


async def test_if_input_matches_different_nan_objects_do_not_match() -> None:
    outputs = await outputs_of(IfInputMatchesBlock(), {"input": float("nan"), "value": float("nan")})
    assert outputs == [("result", False), ("no_output", None)]


async def test_if_input_matches_yields_none_when_yes_value_is_not_given() -> None:
    outputs = await outputs_of(IfInputMatchesBlock(), {"input": "a", "value": "a"})
    assert outputs == [("result", True), ("yes_output", None)]


async def test_if_input_matches_yields_none_when_no_value_is_not_given() -> None:
    outputs = await outputs_of(IfInputMatchesBlock(), {"input": "a", "value": "b"})
    assert outputs == [("result", False), ("no_output", None)]


@pytest.mark.parametrize(
    "given",
    [{"value": 1}, {"input": 1}, {"input": None, "value": 1}],
    ids=["no input", "no value", "input None"],
)
async def test_if_input_matches_requires_input_and_value(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(IfInputMatchesBlock(), given)
