"""CalculatorBlock and CountItemsBlock: AutoGPT's test vectors and the edge cases it documents."""

import math
from collections.abc import Iterator
from typing import Any

import pytest

from domain.blocks.base import (
    Block,
    BlockInputError,
    BlockType,
)
from domain.blocks.maths import CalculatorBlock, CountItemsBlock, Operation
from tests.unit.blocks.outputs import collect_outputs


async def outputs_of(block: Block, data: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(block, data)


# --- the blocks' identity and pins -------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "block_id", "inputs", "required", "outputs"),
    [
        (
            CalculatorBlock,
            "b1ab9b19-67a6-406d-abf5-2dba76d00c79",
            {"operation", "a", "b", "round_result"},
            {"operation", "a", "b"},
            {"result", "error"},
        ),
        (
            CountItemsBlock,
            "3c9c2f42-b0c3-435f-ba35-05f7a25c772a",
            {"collection"},
            {"collection"},
            {"count", "error"},
        ),
    ],
)
def test_block_identity_and_pins(
    block_cls: type[Block], block_id: str, inputs: set[str], required: set[str], outputs: set[str]
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


def test_calculator_schema_offers_autogpt_operations_and_defaults() -> None:
    schema = CalculatorBlock.Input.jsonschema()
    assert schema["properties"]["operation"]["enum"] == ["Add", "Subtract", "Multiply", "Divide", "Power"]
    assert [op.value for op in Operation] == ["Add", "Subtract", "Multiply", "Divide", "Power"]
    assert schema["properties"]["round_result"]["default"] is False
    assert schema["properties"]["a"]["placeholder"] == "For example: 10"
    info = CalculatorBlock.info()
    assert info["description"] == "Performs a mathematical operation on two numbers."
    assert [c["category"] for c in info["categories"]] == ["LOGIC"]


# --- CalculatorBlock -----------------------------------------------------------------


async def test_calculator_autogpt_vector_adds_two_numbers() -> None:
    given = {"operation": "Add", "a": 10.0, "b": 5.0, "round_result": False}
    assert await outputs_of(CalculatorBlock(), given) == [("result", 15.0)]


@pytest.mark.parametrize(
    ("operation", "a", "b", "expected"),
    [
        ("Add", 1.5, 2.25, 3.75),
        ("Subtract", 10, 4, 6.0),
        ("Multiply", 3, -2.5, -7.5),
        ("Divide", 7, 2, 3.5),
        ("Power", 2, 10, 1024.0),
        ("Power", 9, 0.5, 3.0),
    ],
)
async def test_calculator_applies_each_operation(operation: str, a: float, b: float, expected: float) -> None:
    assert await outputs_of(CalculatorBlock(), {"operation": operation, "a": a, "b": b}) == [("result", expected)]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(10, 4, 2), (7, 2, 4), (10, 3, 3), (-7, 2, -4)],
    ids=["2.5 rounds half to even", "3.5 rounds half to even", "3.33 rounds down", "negative halves"],
)
async def test_calculator_round_result_gives_a_whole_number_with_pythons_round(
    a: float, b: float, expected: int
) -> None:
    [(pin, value)] = await outputs_of(CalculatorBlock(), {"operation": "Divide", "a": a, "b": b, "round_result": True})
    assert pin == "result"
    assert value == expected
    assert isinstance(value, int)


@pytest.mark.parametrize("a", [10, -10, 0], ids=["positive", "negative", "zero over zero"])
@pytest.mark.parametrize("round_result", [False, True])
async def test_calculator_division_by_zero_yields_positive_infinity(a: float, round_result: bool) -> None:
    given = {"operation": "Divide", "a": a, "b": 0, "round_result": round_result}
    [(pin, value)] = await outputs_of(CalculatorBlock(), given)
    assert pin == "result"
    assert value == math.inf


async def test_calculator_zero_to_a_negative_power_counts_as_division_by_zero() -> None:
    assert await outputs_of(CalculatorBlock(), {"operation": "Power", "a": 0, "b": -1}) == [("result", math.inf)]


@pytest.mark.parametrize(
    "given",
    [
        {"operation": "Power", "a": 10, "b": 400},
        {"operation": "Multiply", "a": 1e308, "b": 10, "round_result": True},
    ],
    ids=["power overflows", "rounding infinity"],
)
async def test_calculator_other_arithmetic_failures_yield_nan(given: dict[str, Any]) -> None:
    [(pin, value)] = await outputs_of(CalculatorBlock(), given)
    assert pin == "result"
    assert math.isnan(value)


async def test_calculator_overflowing_multiplication_without_rounding_is_infinity() -> None:
    given = {"operation": "Multiply", "a": 1e308, "b": 10}
    assert await outputs_of(CalculatorBlock(), given) == [("result", math.inf)]


async def test_calculator_never_fails_the_node_on_arithmetic() -> None:
    produced = [pair async for pair in CalculatorBlock().execute({"operation": "Divide", "a": 1, "b": 0})]
    assert produced == [("result", math.inf)]


@pytest.mark.parametrize(
    "given",
    [
        {"operation": "Add", "a": "ten", "b": 5},
        {"operation": "Add", "a": 10, "b": [5]},
        {"operation": "Modulo", "a": 10, "b": 5},
        {"operation": "Add", "a": 10},
        {"operation": "Add", "a": 10, "b": None},
    ],
    ids=["non-numeric a", "non-numeric b", "unknown operation", "missing b", "b is None"],
)
async def test_calculator_rejects_bad_input_before_running(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(CalculatorBlock(), given)


# --- CountItemsBlock -----------------------------------------------------------------


async def test_count_items_autogpt_vector_counts_a_list() -> None:
    assert await outputs_of(CountItemsBlock(), {"collection": [1, 2, 3, 4, 5]}) == [("count", 5)]


def _three_things() -> Iterator[str]:
    yield from ("a", "b", "c")


@pytest.mark.parametrize(
    ("collection", "expected"),
    [
        ([], 0),
        ({"a": 1, "b": 2}, 2),
        ("hello", 5),
        ("", 0),
        ((1, 2, 3), 3),
        ({1, 2, 3, 4}, 4),
        (range(7), 7),
    ],
    ids=[
        "empty list",
        "dict counts keys",
        "string counts characters",
        "empty string",
        "tuple",
        "set",
        "range",
    ],
)
async def test_count_items_counts_sized_collections(collection: Any, expected: int) -> None:
    assert await outputs_of(CountItemsBlock(), {"collection": collection}) == [("count", expected)]


async def test_count_items_iterates_any_other_iterable() -> None:
    assert await outputs_of(CountItemsBlock(), {"collection": _three_things()}) == [("count", 3)]


@pytest.mark.parametrize("collection", [42, 3.5, True, False, 0], ids=["int", "float", "True", "False", "0"])
async def test_count_items_yields_minus_one_for_a_non_collection(collection: Any) -> None:
    assert await outputs_of(CountItemsBlock(), {"collection": collection}) == [("count", -1)]


async def test_count_items_requires_a_collection() -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(CountItemsBlock(), {"collection": None})


async def test_count_items_non_collection_does_not_fail_the_node() -> None:
    produced = [pair async for pair in CountItemsBlock().execute({"collection": 12})]
    assert produced == [("count", -1)]
