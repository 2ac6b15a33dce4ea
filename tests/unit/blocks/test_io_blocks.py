"""The graph input and output blocks: what they yield and the schemas they give the graph."""

from __future__ import annotations

from typing import Any

import pytest

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockExecutionError,
    BlockInputError,
    BlockType,
)
from domain.blocks.io import (
    AgentDropdownInputBlock,
    AgentInputBlock,
    AgentLongTextInputBlock,
    AgentNumberInputBlock,
    AgentOutputBlock,
    AgentShortTextInputBlock,
    AgentTableInputBlock,
    AgentToggleInputBlock,
)
from tests.unit.blocks.outputs import collect_outputs

INPUT_PINS = {"name", "value", "title", "description", "advanced", "secret"}

INPUT_BLOCKS: list[tuple[type[AgentInputBlock], str, set[str]]] = [
    (AgentInputBlock, "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b", INPUT_PINS),
    (AgentShortTextInputBlock, "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158", INPUT_PINS),
    (AgentLongTextInputBlock, "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba", INPUT_PINS),
    (AgentNumberInputBlock, "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98", INPUT_PINS),
    (AgentDropdownInputBlock, "655d6fdf-a334-421c-b733-520549c07cd1", INPUT_PINS | {"options"}),
    (AgentToggleInputBlock, "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e", INPUT_PINS),
    (AgentTableInputBlock, "5603b273-f41e-4020-af7d-fbc9c6a8d928", INPUT_PINS | {"column_headers"}),
]


async def run_block(block_cls: type[Block], inputs: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(block_cls(), inputs)


# --- identity and pins -------------------------------------------------------------------------


@pytest.mark.parametrize(("block_cls", "block_id", "input_pins"), INPUT_BLOCKS)
def test_input_block_identity_and_pins(block_cls: type[AgentInputBlock], block_id: str, input_pins: set[str]) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type == BlockType.INPUT
    assert block_cls.static_output is True
    assert block_cls.categories == {BlockCategory.INPUT, BlockCategory.BASIC}
    assert block_cls.input_pins() == input_pins
    assert block_cls.Input.required_fields() == {"name"}
    # No automatic error pin on the IO blocks.
    assert block_cls.output_pins() == {"result"}
    # The graph finds its input nodes by this subclass test.
    assert issubclass(block_cls.Input, AgentInputBlock.Input)


def test_output_block_identity_and_pins() -> None:
    assert AgentOutputBlock.id == "363ae599-353e-4804-937e-b2ee3cef3da4"
    assert AgentOutputBlock.block_type == BlockType.OUTPUT
    assert AgentOutputBlock.static_output is True
    assert AgentOutputBlock.categories == {BlockCategory.OUTPUT, BlockCategory.BASIC}
    assert AgentOutputBlock.input_pins() == {
        "value",
        "name",
        "title",
        "description",
        "format",
        "escape_html",
        "advanced",
        "secret",
    }
    assert AgentOutputBlock.Input.required_fields() == {"name"}
    assert AgentOutputBlock.output_pins() == {"output", "name"}
    assert not issubclass(AgentOutputBlock.Input, AgentInputBlock.Input)


def test_input_pin_defaults_and_advanced_flags() -> None:
    props = AgentInputBlock.Input.jsonschema()["properties"]
    assert props["value"]["default"] is None
    assert props["title"]["default"] is None and props["title"]["advanced"] is True
    assert props["description"]["default"] is None and props["description"]["advanced"] is True
    assert props["advanced"]["default"] is False and props["advanced"]["advanced"] is True
    assert props["secret"]["default"] is False and props["secret"]["advanced"] is True
    assert props["name"]["description"] == "The name of the input."


def test_output_pin_defaults_and_advanced_flags() -> None:
    props = AgentOutputBlock.Input.jsonschema()["properties"]
    assert props["value"]["default"] is None and props["value"]["advanced"] is False
    assert props["format"]["default"] == "" and props["format"]["advanced"] is True
    assert props["escape_html"]["default"] is False and props["escape_html"]["advanced"] is True
    assert props["advanced"]["default"] is False
    assert props["secret"]["default"] is False


def test_subtype_value_pins_are_titled_default_value() -> None:
    for block_cls, _, _ in INPUT_BLOCKS[1:]:
        assert block_cls.Input.jsonschema()["properties"]["value"]["title"] == "Default Value"


def test_toggle_value_defaults_to_false_and_table_headers_to_three_columns() -> None:
    assert AgentToggleInputBlock.Input.jsonschema()["properties"]["value"]["default"] is False
    data = AgentTableInputBlock.validate_input({"name": "t"})
    assert isinstance(data, AgentTableInputBlock.Input)
    assert data.column_headers == ["Column 1", "Column 2", "Column 3"]
    headers = AgentTableInputBlock.Input.jsonschema()["properties"]["column_headers"]
    assert headers["title"] == "Column Headers"
    assert headers["type"] == "array" and headers["items"] == {"type": "string"}


# --- input blocks: AutoGPT's test vectors ------------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "inputs", "expected"),
    [
        (
            AgentInputBlock,
            {"value": "Hello, World!", "name": "input_1", "description": "Example test input."},
            [("result", "Hello, World!")],
        ),
        (
            AgentInputBlock,
            {"value": 42, "name": "input_2", "description": "Example numeric input."},
            [("result", 42)],
        ),
        (
            AgentShortTextInputBlock,
            {"value": "Hello", "name": "short_text_1", "description": "Short text example 1"},
            [("result", "Hello")],
        ),
        (
            AgentShortTextInputBlock,
            {"value": "Quick test", "name": "short_text_2", "description": "Short text example 2"},
            [("result", "Quick test")],
        ),
        (
            AgentLongTextInputBlock,
            {
                "value": "Lorem ipsum dolor sit amet...",
                "name": "long_text_1",
                "description": "Long text example 1",
            },
            [("result", "Lorem ipsum dolor sit amet...")],
        ),
        (
            AgentLongTextInputBlock,
            {
                "value": "Another multiline text input.",
                "name": "long_text_2",
                "description": "Long text example 2",
            },
            [("result", "Another multiline text input.")],
        ),
        (
            AgentNumberInputBlock,
            {"value": 42, "name": "number_input_1", "description": "Number example 1"},
            [("result", 42)],
        ),
        (
            AgentNumberInputBlock,
            {"value": 314, "name": "number_input_2", "description": "Number example 2"},
            [("result", 314)],
        ),
        (
            AgentDropdownInputBlock,
            {
                "value": "Option A",
                "name": "dropdown_1",
                "options": ["Option A", "Option B", "Option C"],
                "description": "Dropdown example 1",
            },
            [("result", "Option A")],
        ),
        (
            AgentDropdownInputBlock,
            {
                "value": "Option C",
                "name": "dropdown_2",
                "options": ["Option A", "Option B", "Option C"],
                "description": "Dropdown example 2",
            },
            [("result", "Option C")],
        ),
        (
            AgentToggleInputBlock,
            {"value": True, "name": "toggle_1", "description": "Toggle example 1"},
            [("result", True)],
        ),
        (
            AgentToggleInputBlock,
            {"value": False, "name": "toggle_2", "description": "Toggle example 2"},
            [("result", False)],
        ),
        (
            AgentTableInputBlock,
            {
                "name": "test_table",
                "column_headers": ["Name", "Age", "City"],
                "value": [
                    {"Name": "John", "Age": "30", "City": "New York"},
                    {"Name": "Jane", "Age": "25", "City": "London"},
                ],
                "description": "Example table input",
            },
            [
                (
                    "result",
                    [
                        {"Name": "John", "Age": "30", "City": "New York"},
                        {"Name": "Jane", "Age": "25", "City": "London"},
                    ],
                )
            ],
        ),
    ],
)
async def test_input_block_yields_its_value(
    block_cls: type[Block], inputs: dict[str, Any], expected: list[tuple[str, Any]]
) -> None:
    assert await run_block(block_cls, inputs) == expected


# --- input blocks: edge cases ------------------------------------------------------------------


@pytest.mark.parametrize(
    "block_cls",
    [
        AgentInputBlock,
        AgentShortTextInputBlock,
        AgentLongTextInputBlock,
        AgentNumberInputBlock,
        AgentDropdownInputBlock,
    ],
)
@pytest.mark.parametrize("inputs", [{"name": "x"}, {"name": "x", "value": None}])
async def test_input_block_without_a_value_yields_nothing(block_cls: type[Block], inputs: dict[str, Any]) -> None:
    assert await run_block(block_cls, inputs) == []


@pytest.mark.parametrize("falsy", [0, "", [], {}, False])
async def test_input_block_yields_falsy_values(falsy: Any) -> None:
    # The check is `is not None`, so falsy values still go out.
    assert await run_block(AgentInputBlock, {"name": "x", "value": falsy}) == [("result", falsy)]


async def test_toggle_without_a_value_yields_false() -> None:
    # Its value defaults to False (not None), so it always yields.
    assert await run_block(AgentToggleInputBlock, {"name": "t"}) == [("result", False)]


async def test_table_without_a_value_yields_an_empty_table() -> None:
    assert await run_block(AgentTableInputBlock, {"name": "t"}) == [("result", [])]
    assert await run_block(AgentTableInputBlock, {"name": "t", "value": None}) == [("result", [])]


async def test_number_input_coerces_numeric_text() -> None:
    assert await run_block(AgentNumberInputBlock, {"name": "n", "value": "7"}) == [("result", 7)]


async def test_number_input_rejects_text_that_is_not_a_number() -> None:
    with pytest.raises(BlockInputError):
        await run_block(AgentNumberInputBlock, {"name": "n", "value": "seven"})


async def test_input_block_needs_a_name() -> None:
    with pytest.raises(BlockInputError):
        await run_block(AgentInputBlock, {"value": "hello"})


async def test_dropdown_accepts_legacy_placeholder_values() -> None:
    data = AgentDropdownInputBlock.validate_input({"name": "d", "value": "B", "placeholder_values": ["A", "B"]})
    assert isinstance(data, AgentDropdownInputBlock.Input)
    assert data.options == ["A", "B"]
    assert await run_block(AgentDropdownInputBlock, {"name": "d", "value": "B", "placeholder_values": ["A", "B"]}) == [
        ("result", "B")
    ]


async def test_input_block_strict_execution_yields_the_value() -> None:
    outputs = [pair async for pair in AgentInputBlock().execute({"name": "x", "value": {"a": 1}})]
    assert outputs == [("result", {"a": 1})]


# --- generate_schema ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "input_default", "expected"),
    [
        (AgentInputBlock, {"name": "Input"}, {}),
        (AgentInputBlock, {"name": "Input", "value": "preset", "description": "d"}, {}),
        (
            AgentShortTextInputBlock,
            {"name": "topic"},
            {"anyOf": [{"format": "short-text", "type": "string"}, {"type": "null"}]},
        ),
        (
            AgentLongTextInputBlock,
            {"name": "body"},
            {"anyOf": [{"format": "long-text", "type": "string"}, {"type": "null"}]},
        ),
        (
            AgentNumberInputBlock,
            {"name": "count", "value": 3},
            {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        ),
        (AgentToggleInputBlock, {"name": "flag"}, {"type": "boolean"}),
        (
            AgentDropdownInputBlock,
            {"name": "choice"},
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
        ),
        (
            AgentDropdownInputBlock,
            {"name": "choice", "options": []},
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
        ),
        (
            AgentDropdownInputBlock,
            {"name": "choice", "options": ["A", "B"]},
            {"anyOf": [{"type": "string"}, {"type": "null"}], "enum": ["A", "B"]},
        ),
        (
            AgentDropdownInputBlock,
            {"name": "choice", "placeholder_values": ["X", "Y"]},
            {"anyOf": [{"type": "string"}, {"type": "null"}], "enum": ["X", "Y"]},
        ),
        (AgentOutputBlock, {"name": "Output"}, {}),
    ],
)
def test_generate_schema_gives_the_value_schema(
    block_cls: type[Block], input_default: dict[str, Any], expected: dict[str, Any]
) -> None:
    schema_cls: Any = block_cls.Input
    assert schema_cls.generate_schema(input_default) == expected


def test_generate_schema_for_a_table_lists_one_string_per_column() -> None:
    rows = [{"Name": "John", "Age": "30"}]
    schema = AgentTableInputBlock.Input.generate_schema(
        {"name": "people", "column_headers": ["Name", "Age"], "value": rows}
    )
    assert schema["type"] == "array"
    assert schema["format"] == "table"
    assert schema["items"] == {
        "type": "object",
        "properties": {"Name": {"type": "string"}, "Age": {"type": "string"}},
    }
    assert schema["default"] == rows


@pytest.mark.parametrize("headers", [None, []])
def test_generate_schema_for_a_table_falls_back_to_three_columns(headers: list[str] | None) -> None:
    input_default: dict[str, Any] = {"name": "t"}
    if headers is not None:
        input_default["column_headers"] = headers
    schema = AgentTableInputBlock.Input.generate_schema(input_default)
    assert list(schema["items"]["properties"]) == ["Column 1", "Column 2", "Column 3"]
    assert "default" not in schema


def test_generate_schema_returns_an_independent_copy() -> None:
    first = AgentShortTextInputBlock.Input.generate_schema({"name": "a"})
    first["anyOf"][0]["format"] = "changed"
    second = AgentShortTextInputBlock.Input.generate_schema({"name": "a"})
    assert second["anyOf"][0]["format"] == "short-text"
    assert AgentShortTextInputBlock.Input.jsonschema()["properties"]["value"]["anyOf"][0]["format"] == ("short-text")


def test_generate_schema_drops_the_value_field_description_and_default() -> None:
    for block_cls, _, _ in INPUT_BLOCKS:
        schema = block_cls.Input.generate_schema({"name": "x"})
        assert "description" not in schema
        assert "default" not in schema


# --- output block ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (
            {
                "value": "Hello, World!",
                "name": "output_1",
                "description": "This is a test output.",
                "format": "{{ output_1 }}!!",
            },
            [("output", "Hello, World!!!")],
        ),
        (
            {
                "value": "42",
                "name": "output_2",
                "description": "This is another test output.",
                "format": "{{ output_2 }}",
            },
            [("output", "42")],
        ),
        (
            {
                "value": "MockObject(value='!!', key='key')",
                "name": "output_3",
                "description": "This is a test output with a mock object.",
                "format": "{{ output_3 }}",
            },
            [("output", "MockObject(value='!!', key='key')")],
        ),
    ],
)
async def test_output_block_renders_its_format(inputs: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await run_block(AgentOutputBlock, inputs) == expected


@pytest.mark.parametrize("value", ["Hello", 0, None, [1, 2], {"a": 1}])
async def test_output_block_without_format_yields_the_value_then_the_name(value: Any) -> None:
    assert await run_block(AgentOutputBlock, {"name": "result", "value": value}) == [
        ("output", value),
        ("name", "result"),
    ]


async def test_output_block_escapes_html_only_when_asked() -> None:
    inputs = {"name": "page", "value": "<b>&", "format": "<p>{{ page }}</p>"}
    assert await run_block(AgentOutputBlock, inputs) == [("output", "<p><b>&</p>")]
    assert await run_block(AgentOutputBlock, {**inputs, "escape_html": True}) == [("output", "<p>&lt;b&gt;&amp;</p>")]


async def test_output_block_template_sees_only_its_own_name() -> None:
    inputs = {"name": "out", "value": "v", "format": "[{{ other }}|{{ out }}]"}
    assert await run_block(AgentOutputBlock, inputs) == [("output", "[|v]")]


async def test_output_block_template_can_walk_structured_values() -> None:
    inputs = {"name": "items", "value": ["a", "b"], "format": "{% for i in items %}{{ i }};{% endfor %}"}
    assert await run_block(AgentOutputBlock, inputs) == [("output", "a;b;")]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ out | nosuchfilter }}", "Error: No filter named 'nosuchfilter'., [1, 2]"),
        ("{{ out ", "Error: unexpected end of template, expected 'end of print statement'., [1, 2]"),
        (
            "{{ out.__class__.__mro__ }}",
            "Error: access to attribute '__class__' of 'list' object is unsafe., [1, 2]",
        ),
    ],
)
async def test_output_block_reports_a_broken_template_as_its_output(template: str, expected: str) -> None:
    # A rendering failure does not fail the node: the message becomes the output.
    inputs = {"name": "out", "value": [1, 2], "format": template}
    outputs = [pair async for pair in AgentOutputBlock().execute(inputs)]
    assert outputs == [("output", expected)]


async def test_output_block_needs_a_name() -> None:
    with pytest.raises(BlockInputError):
        await run_block(AgentOutputBlock, {"value": 1})


async def test_output_block_never_raises_on_execute() -> None:
    try:
        outputs = [pair async for pair in AgentOutputBlock().execute({"name": "n", "value": None})]
    except BlockExecutionError as exc:  # pragma: no cover - the assertion below explains
        pytest.fail(f"output block failed: {exc}")
    assert outputs == [("output", None), ("name", "n")]
