"""The basic blocks (store, print, note, type converter) and the conversion rules they share."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockExecutionError,
    BlockInputError,
    BlockType,
)
from domain.blocks.basic import (
    NoteBlock,
    PrintToConsoleBlock,
    StoreValueBlock,
    TypeOptions,
    UniversalTypeConverterBlock,
)
from domain.blocks.conversion import ConversionError, convert
from domain.blocks.io import ShortTextType
from tests.unit.blocks.outputs import collect_outputs


async def run_block(block_cls: type[Block], inputs: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(block_cls(), inputs)


class Opaque:
    """A value JSON cannot write, with a readable str for error messages."""

    def __str__(self) -> str:
        return "opaque"


# --- identity and pins -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "block_id", "block_type", "static", "inputs", "required", "outputs"),
    [
        (
            StoreValueBlock,
            "1ff065e9-88e8-4358-9d82-8dc91f622ba9",
            BlockType.STANDARD,
            True,
            {"input", "data"},
            {"input"},
            {"output", "error"},
        ),
        (
            PrintToConsoleBlock,
            "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c",
            BlockType.STANDARD,
            False,
            {"text"},
            {"text"},
            {"output", "status", "error"},
        ),
        (
            NoteBlock,
            "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc",
            BlockType.NOTE,
            False,
            {"text"},
            {"text"},
            {"output", "error"},
        ),
        (
            UniversalTypeConverterBlock,
            "95d1b990-ce13-4d88-9737-ba5c2070c97b",
            BlockType.STANDARD,
            False,
            {"value", "type"},
            {"value", "type"},
            {"value", "error"},
        ),
    ],
)
def test_block_identity_and_pins(
    block_cls: type[Block],
    block_id: str,
    block_type: BlockType,
    static: bool,
    inputs: set[str],
    required: set[str],
    outputs: set[str],
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type == block_type
    assert block_cls.static_output is static
    assert block_cls.categories == {BlockCategory.BASIC}
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


def test_store_value_data_defaults_to_none() -> None:
    assert StoreValueBlock.Input.jsonschema()["properties"]["data"]["default"] is None


def test_converter_type_pin_offers_autogpt_choices() -> None:
    type_pin = UniversalTypeConverterBlock.Input.jsonschema()["properties"]["type"]
    assert type_pin["enum"] == ["string", "number", "boolean", "list", "dictionary"]
    assert [option.value for option in TypeOptions] == type_pin["enum"]


# --- StoreValueBlock ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # AutoGPT's test vectors
        ({"input": "Hello, World!"}, [("output", "Hello, World!")]),
        ({"input": "Hello, World!", "data": "Existing Data"}, [("output", "Existing Data")]),
        # stored data of any type wins over the trigger
        ({"input": 1, "data": {"k": [1, 2]}}, [("output", {"k": [1, 2]})]),
        ({"input": "go", "data": None}, [("output", "go")]),
    ],
)
async def test_store_value_yields_data_or_input(inputs: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await run_block(StoreValueBlock, inputs) == expected


@pytest.mark.parametrize("falsy", [0, "", [], {}, False, 0.0])
async def test_store_value_falsy_data_falls_back_to_the_input(falsy: Any) -> None:
    # AutoGPT's `data or input`: falsy data is not forwarded.
    assert await run_block(StoreValueBlock, {"input": "trigger", "data": falsy}) == [("output", "trigger")]


async def test_store_value_passes_a_falsy_input_through() -> None:
    assert await run_block(StoreValueBlock, {"input": 0}) == [("output", 0)]


@pytest.mark.parametrize("inputs", [{}, {"input": None}, {"data": "x"}])
async def test_store_value_needs_a_trigger_input(inputs: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run_block(StoreValueBlock, inputs)


# --- PrintToConsoleBlock -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # AutoGPT's test vector
        ({"text": "Hello, World!"}, [("output", "Hello, World!"), ("status", "printed")]),
        ({"text": {"a": 1}}, [("output", {"a": 1}), ("status", "printed")]),
        ({"text": 0}, [("output", 0), ("status", "printed")]),
    ],
)
async def test_print_to_console_passes_the_text_through(
    inputs: dict[str, Any], expected: list[tuple[str, Any]]
) -> None:
    assert await run_block(PrintToConsoleBlock, inputs) == expected


async def test_print_to_console_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    await run_block(PrintToConsoleBlock, {"text": "quiet"})
    assert capsys.readouterr().out == ""


async def test_print_to_console_needs_text() -> None:
    with pytest.raises(BlockInputError):
        await run_block(PrintToConsoleBlock, {})


# --- NoteBlock ---------------------------------------------------------------------------------


async def test_note_yields_its_text() -> None:
    # AutoGPT's test vector
    assert await run_block(NoteBlock, {"text": "Hello, World!"}) == [("output", "Hello, World!")]


@pytest.mark.parametrize("inputs", [{}, {"text": 5}])
async def test_note_needs_text(inputs: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run_block(NoteBlock, inputs)


# --- UniversalTypeConverterBlock ---------------------------------------------------------------
# AutoGPT records no test vectors for this block: these are typical uses.


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        ("42", "number", 42.0),
        ("3.14", "number", 3.14),
        (7, "number", 7.0),
        ([1, 2, 3], "number", 3.0),
        ("not a number", "number", 0.0),  # AutoGPT's fallback, not an error
        (42, "string", "42"),
        ("hello", "string", "hello"),
        ({"a": 1}, "string", '{"a": 1}'),
        ([1, "x"], "string", '[1, "x"]'),
        (True, "string", "true"),
        ("true", "boolean", True),
        ("True", "boolean", True),
        ("1", "boolean", True),
        ("yes", "boolean", False),
        ("false", "boolean", False),
        (0, "boolean", False),
        ([0], "boolean", True),
        ("[1, 2, 3]", "list", [1, 2, 3]),
        ("a,b", "list", ["a,b"]),
        (5, "list", [5]),
        ({"a": 1}, "list", [("a", 1)]),
        ('{"a": 1}', "dictionary", {"a": 1}),
        ("hello", "dictionary", {"value": "hello"}),
        (["x", "y"], "dictionary", {0: "x", 1: "y"}),
        ({"a": 1}, "dictionary", {"a": 1}),
    ],
)
async def test_converter_yields_the_converted_value(value: Any, target: str, expected: Any) -> None:
    outputs = await run_block(UniversalTypeConverterBlock, {"value": value, "type": target})
    assert outputs == [("value", expected)]
    assert type(outputs[0][1]) is type(expected)


async def test_converter_accepts_the_enum_member() -> None:
    outputs = await run_block(UniversalTypeConverterBlock, {"value": "2", "type": TypeOptions.NUMBER})
    assert outputs == [("value", 2.0)]


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        (Opaque(), "string", "Failed to convert value: Failed to convert opaque to <class 'str'>"),
        (10**400, "number", f"Failed to convert value: Failed to convert {10**400} to <class 'float'>"),
    ],
)
async def test_converter_reports_failure_on_error(value: Any, target: str, expected: str) -> None:
    assert await run_block(UniversalTypeConverterBlock, {"value": value, "type": target}) == [("error", expected)]


async def test_converter_failure_fails_a_strict_run() -> None:
    block = UniversalTypeConverterBlock()
    with pytest.raises(BlockExecutionError, match=r"^Failed to convert value: "):
        _ = [pair async for pair in block.execute({"value": Opaque(), "type": "string"})]


@pytest.mark.parametrize("inputs", [{"value": 1}, {"type": "string"}, {"value": 1, "type": "integer"}])
async def test_converter_rejects_missing_or_unknown_input(inputs: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run_block(UniversalTypeConverterBlock, inputs)


# --- convert: the shared rules -----------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: int
    y: int


@pytest.mark.parametrize(
    ("value", "target", "expected"),
    [
        # numbers
        (5.5, int, 5),
        ("5.5", int, 5),
        (" 42 ", int, 42),
        ("12345678901234567890", int, 12345678901234567890),
        ([1, 2, 3], int, 3),
        ({"a": 1}, int, 1),
        ([], int, 0),
        ("abc", int, 0),
        ("nan", int, 0),
        (None, int, 0),
        ("5.5", float, 5.5),
        (5, float, 5.0),
        (True, float, 1.0),
        ("abc", float, 0.0),
        # bool is an int already, so it is kept
        (True, int, True),
        # booleans
        ("True", bool, True),
        ("TRUE", bool, True),
        ("1", bool, True),
        ("False", bool, False),
        ("yes", bool, False),
        ("", bool, False),
        (0, bool, False),
        (2, bool, True),
        ([], bool, False),
        # strings
        (5, str, "5"),
        (1.5, str, "1.5"),
        (True, str, "true"),
        (None, str, "null"),
        ({"a": 1, "b": 2}, str, '{"a": 1, "b": 2}'),
        ([1, 2, 3], str, "[1, 2, 3]"),
        ([], str, "[]"),
        (["café"], str, '["café"]'),
        ({1, 2}, str, "[1, 2]"),
        (datetime.date(2024, 1, 2), str, '"2024-01-02"'),
        (Colour.RED, str, '"red"'),
        (Point(x=1, y=2), str, '{"x": 1, "y": 2}'),
        (uuid.UUID(int=0), str, '"00000000-0000-0000-0000-000000000000"'),
        ("keep me", str, "keep me"),
        # str subclasses count as str
        ([], ShortTextType, "[]"),
        # lists
        ("5", list, ["5"]),
        ("  hi ", list, ["hi"]),
        ("[1, 2, 3]", list, [1, 2, 3]),
        ("[1, 2", list, ["[1, 2"]),
        ((1, 2, 3), list, [1, 2, 3]),
        ({1, 2, 3}, list, [1, 2, 3]),
        ({"a": 1}, list, [("a", 1)]),
        (None, list, [None]),
        # dictionaries
        ("5", dict, {"value": 5}),
        ("hello", dict, {"value": "hello"}),
        ("[1,2]", dict, {"value": [1, 2]}),
        ('{"a": 1, "b": 2}', dict, {"a": 1, "b": 2}),
        ([1, 2, 3], dict, {0: 1, 1: 2, 2: 3}),
        ((1, 2, 3), dict, {0: 1, 1: 2, 2: 3}),
        (5, dict, {"value": 5}),
        # tuples and sets
        ("hello", tuple, ("hello",)),
        ("[1, 2, 3]", tuple, (1, 2, 3)),
        ("[1,]", tuple, ("[1,]",)),
        ("[[1], [2]]", tuple, ([1], [2])),
        ("hello", set, {"hello"}),
        ("[1, 2, 3]", set, {1, 2, 3}),
        ('"abc"', set, {'"abc"'}),
        ("[[1], [2]]", set, {"[[1], [2]]"}),
        # parametrised containers convert their items
        ("5", list[int], [5]),
        ("[5,4,2]", list[int], [5, 4, 2]),
        ([5, 4, 2], list[str], ["5", "4", "2"]),
        ({"x": "10", "y": "20"}, dict[str, int], {"x": 10, "y": 20}),
        (("1", "2"), tuple[int, ...], (1, 2)),
        (("1", "2"), tuple[int, str], (1, "2")),
        (["1", "1"], set[int], {1}),
        # unions
        ("7", Optional[int], 7),  # noqa: UP045 - the typing spelling is what older schemas use
        ("7", int | None, 7),
        (None, int | None, None),
        ([], Optional[str], "[]"),  # noqa: UP045
        ([], Optional[ShortTextType], "[]"),  # noqa: UP045
        ([], int | None, 0),
        (["a"], str | list[str], ["a"]),
        ([1, 2], str | list[str], "[1, 2]"),
        ("5", Union[int, str], "5"),  # noqa: UP007 - already a str: kept
        (5.5, Union[int, str], 5),  # noqa: UP007 - fits neither: int is tried first
        # left to validation
        ("x", Any, "x"),
        ("anything", Literal["x"], "anything"),
        ("red", Colour, "red"),
        ({"x": 1}, Point, {"x": 1}),
    ],
)
def test_convert(value: Any, target: Any, expected: Any) -> None:
    result = convert(value, target)
    assert result == expected
    assert type(result) is type(expected)


def test_convert_keeps_a_value_that_already_fits() -> None:
    items = [1, 2]
    assert convert(items, list) is items
    mapping = {"a": 1}
    assert convert(mapping, dict) is mapping


@pytest.mark.parametrize(
    ("value", "target"),
    [
        (Opaque(), str),
        ("inf", int),
        (10**400, float),
        ([[1], [2]], set),
    ],
)
def test_convert_raises_when_it_cannot_convert(value: Any, target: Any) -> None:
    with pytest.raises(ConversionError) as caught:
        convert(value, target)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == f"Failed to convert {value} to {target}"
    assert caught.value.__cause__ is not None


def test_convert_reports_a_circular_structure() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ConversionError):
        convert(loop, str)
