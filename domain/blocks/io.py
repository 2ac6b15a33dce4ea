"""Graph input and output blocks: how values enter and leave an agent.

An input block's ``value`` is where the platform injects the graph-level input
of the same ``name`` when a run starts; an output block records a value under
its ``name`` as one of the run's results. The graph derives its own
``input_schema`` and ``output_schema`` from these nodes with
``Input.generate_schema`` (see ``AgentInputBlock.Input.generate_schema``).

These mirror AutoGPT's IO blocks (same ids, pins, defaults and behaviour).
Their outputs derive from plain ``BlockSchema``: like AutoGPT's, they have no
automatic ``error`` pin.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from pydantic import AliasChoices, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchema,
    BlockSchemaInput,
    BlockType,
    RunContext,
    SchemaField,
)
from domain.blocks.templating import render_template

# Keys of the value field's schema that generate_schema leaves out: the graph
# sets each of them per node (from the node's own title, description, value,
# advanced and secret inputs), so the field's values would only be overwritten.
_NODE_LEVEL_KEYS = frozenset({"description", "default", "title", "advanced", "secret"})

_DEFAULT_TABLE_HEADERS = ("Column 1", "Column 2", "Column 3")


class FormattedStringType(str):
    """A string whose JSON Schema carries a ``format`` hint for the UI."""

    string_format: ClassVar[str]

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Validated as a plain str: the format is only a rendering hint.
        return handler(str)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        json_schema["format"] = cls.string_format
        return json_schema


class ShortTextType(FormattedStringType):
    """Single-line text (JSON Schema ``format: short-text``)."""

    string_format = "short-text"


class LongTextType(FormattedStringType):
    """Multi-line text (JSON Schema ``format: long-text``)."""

    string_format = "long-text"


def _value_field_schema(schema_cls: type[BlockSchema]) -> dict[str, Any]:
    """The ``value`` pin's JSON Schema without the keys the graph sets per node."""
    # jsonschema() hands out a deep copy, so callers may change the result.
    field_schema: dict[str, Any] = schema_cls.jsonschema()["properties"]["value"]
    return {key: val for key, val in field_schema.items() if key not in _NODE_LEVEL_KEYS}


class AgentInputBlock(Block):
    """A graph entry point: yields the value given for its ``name``, if any."""

    id = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
    pure = True
    description = (
        "A block that accepts and processes user input values within a workflow, "
        "supporting various input types and validation."
    )
    categories = frozenset({BlockCategory.INPUT, BlockCategory.BASIC})
    block_type = BlockType.INPUT
    static_output = True

    class Input(BlockSchemaInput):
        name: str = SchemaField(description="The name of the input.")
        value: Any = SchemaField(default=None, description="The value to be passed as input.")
        title: str | None = SchemaField(default=None, description="The title of the input.", advanced=True)
        description: str | None = SchemaField(default=None, description="The description of the input.", advanced=True)
        advanced: bool = SchemaField(
            default=False,
            description="Whether to show the input in the advanced section, if the field is not required.",
            advanced=True,
        )
        secret: bool = SchemaField(
            default=False, description="Whether the input should be treated as a secret.", advanced=True
        )

        @classmethod
        def generate_schema(cls, input_default: dict[str, Any]) -> dict[str, Any]:
            """The JSON Schema of this input as the graph's ``input_schema`` shows it.

            A fresh copy of the ``value`` field's schema, without the keys the
            graph sets from the node itself (description, default, title,
            advanced, secret): ``value: Any`` gives ``{}``, an optional short
            text gives ``{"anyOf": [{"format": "short-text", "type": "string"},
            {"type": "null"}]}``. ``input_default`` is the node's input; the
            subclasses that shape the schema from it override this.
            """
            return _value_field_schema(cls)

    class Output(BlockSchema):
        result: Any = SchemaField(description="The value passed as input.")

    async def run(self, input_data: AgentInputBlock.Input, context: RunContext) -> BlockOutput:
        # A missing value yields nothing at all (not a None): an input nobody
        # filled in does not trigger the nodes downstream.
        if input_data.value is not None:
            yield "result", input_data.value


class AgentOutputBlock(Block):
    """Records a value as one of the graph's results, optionally through a Jinja2 template."""

    id = "363ae599-353e-4804-937e-b2ee3cef3da4"
    pure = True
    description = (
        "A block that records and formats workflow results for display to users, "
        "with optional Jinja2 template formatting support."
    )
    categories = frozenset({BlockCategory.OUTPUT, BlockCategory.BASIC})
    block_type = BlockType.OUTPUT
    static_output = True

    class Input(BlockSchemaInput):
        value: Any = SchemaField(default=None, description="The value to be recorded as output.", advanced=False)
        name: str = SchemaField(description="The name of the output.")
        title: str | None = SchemaField(default=None, description="The title of the output.", advanced=True)
        description: str | None = SchemaField(default=None, description="The description of the output.", advanced=True)
        format: str = SchemaField(
            default="",
            description="The format string to be used to format the recorded_value. Use Jinja2 syntax.",
            advanced=True,
        )
        escape_html: bool = SchemaField(
            default=False,
            description=(
                "Whether to escape special characters in the inserted values to be HTML-safe. "
                "Enable for HTML output, disable for plain text."
            ),
            advanced=True,
        )
        advanced: bool = SchemaField(
            default=False, description="Whether to treat the output as advanced.", advanced=True
        )
        secret: bool = SchemaField(
            default=False, description="Whether the output should be treated as a secret.", advanced=True
        )

        @classmethod
        def generate_schema(cls, input_default: dict[str, Any]) -> dict[str, Any]:
            """The JSON Schema of this output as the graph's ``output_schema`` shows it.

            Built like ``AgentInputBlock.Input.generate_schema``: the ``value``
            field's schema without its node-level keys (``{}`` for ``Any``).
            """
            return _value_field_schema(cls)

    class Output(BlockSchema):
        output: Any = SchemaField(description="The value recorded as output.")
        name: Any = SchemaField(description="The name of the value recorded as output.")

    async def run(self, input_data: AgentOutputBlock.Input, context: RunContext) -> BlockOutput:
        if input_data.format:
            try:
                rendered = render_template(
                    input_data.format,
                    {input_data.name: input_data.value},
                    escape_html=input_data.escape_html,
                )
            except Exception as exc:
                yield "output", f"Error: {exc}, {input_data.value}"
            else:
                # Only `output` here: with a format AutoGPT does not yield `name`.
                yield "output", rendered
        else:
            # None values are recorded too: an output block does no filtering.
            yield "output", input_data.value
            yield "name", input_data.name


class AgentShortTextInputBlock(AgentInputBlock):
    """A graph input for a single line of text."""

    id = "7fcd3bcb-8e1b-4e69-903d-32d3d4a92158"
    description = "Block for short text input (single-line)."

    class Input(AgentInputBlock.Input):
        value: ShortTextType | None = SchemaField(
            default=None, description="Short text input.", advanced=False, title="Default Value"
        )

    class Output(AgentInputBlock.Output):
        result: str = SchemaField(description="Short text result.")


class AgentLongTextInputBlock(AgentInputBlock):
    """A graph input for text that may span several lines."""

    id = "90a56ffb-7024-4b2b-ab50-e26c5e5ab8ba"
    description = "Block for long text input (multi-line)."

    class Input(AgentInputBlock.Input):
        value: LongTextType | None = SchemaField(
            default=None,
            description="Long text input (potentially multi-line).",
            advanced=False,
            title="Default Value",
        )

    class Output(AgentInputBlock.Output):
        result: str = SchemaField(description="Long text result.")


class AgentNumberInputBlock(AgentInputBlock):
    """A graph input for a whole number."""

    id = "96dae2bb-97a2-41c2-bd2f-13a3b5a8ea98"
    description = "Block for number input."

    class Input(AgentInputBlock.Input):
        value: int | None = SchemaField(
            default=None, description="Number input.", advanced=False, title="Default Value"
        )

    class Output(AgentInputBlock.Output):
        result: int = SchemaField(description="Number result.")


class AgentDropdownInputBlock(AgentInputBlock):
    """A graph input whose text is picked from a fixed list of options."""

    id = "655d6fdf-a334-421c-b733-520549c07cd1"
    description = "Block for dropdown text selection."

    class Input(AgentInputBlock.Input):
        value: str | None = SchemaField(
            default=None, description="Text selected from a dropdown.", advanced=False, title="Default Value"
        )
        # A plain pydantic Field: SchemaField has no validation_alias, and
        # older exports name this pin `placeholder_values`.
        options: list[Any] = Field(
            default_factory=list,
            title="Dropdown Options",
            description=(
                "If provided, renders the input as a dropdown selector restricted to these values. "
                "Leave empty for free-text input."
            ),
            validation_alias=AliasChoices("options", "placeholder_values"),
            json_schema_extra={"advanced": False, "secret": False},
        )

        @classmethod
        def generate_schema(cls, input_default: dict[str, Any]) -> dict[str, Any]:
            """The value's schema, restricted by ``enum`` to the options when there are any."""
            schema = super().generate_schema(input_default)
            options = input_default.get("options")
            if options is None:
                options = input_default.get("placeholder_values")
            if options:
                schema["enum"] = list(options)
            return schema

    class Output(AgentInputBlock.Output):
        result: str = SchemaField(description="Selected dropdown value.")


class AgentToggleInputBlock(AgentInputBlock):
    """A graph input for a yes/no switch."""

    id = "cbf36ab5-df4a-43b6-8a7f-f7ed8652116e"
    description = "Block for boolean toggle input."

    class Input(AgentInputBlock.Input):
        # Defaults to False, not None, so the inherited run always yields,
        # False included.
        value: bool = SchemaField(
            default=False, description="Boolean toggle input.", advanced=False, title="Default Value"
        )

    class Output(AgentInputBlock.Output):
        result: bool = SchemaField(description="Boolean toggle result.")


class AgentTableInputBlock(AgentInputBlock):
    """A graph input for rows of a table, each row a dict keyed by column header."""

    id = "5603b273-f41e-4020-af7d-fbc9c6a8d928"
    description = "Block for table data input with customizable headers."

    class Input(AgentInputBlock.Input):
        value: list[dict[str, Any]] | None = SchemaField(
            default=None,
            description="The table data as a list of dictionaries.",
            advanced=False,
            title="Default Value",
        )
        column_headers: list[str] = SchemaField(
            default_factory=lambda: list(_DEFAULT_TABLE_HEADERS),
            description="Column headers for the table.",
            advanced=False,
            title="Column Headers",
        )

        @classmethod
        def generate_schema(cls, input_default: dict[str, Any]) -> dict[str, Any]:
            """The value's schema as a table: an array of objects, one string per column.

            Empty or missing headers fall back to Column 1..3; the node's value,
            when set, becomes the default.
            """
            schema = super().generate_schema(input_default)
            headers = input_default.get("column_headers") or list(_DEFAULT_TABLE_HEADERS)
            schema["type"] = "array"
            schema["format"] = "table"
            schema["items"] = {
                "type": "object",
                "properties": {header: {"type": "string"} for header in headers},
            }
            value = input_default.get("value")
            if value is not None:
                schema["default"] = value
            return schema

    class Output(AgentInputBlock.Output):
        result: list[dict[str, Any]] = SchemaField(
            description="The table data as a list of dictionaries with headers as keys."
        )

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        data = cast(AgentTableInputBlock.Input, input_data)
        # Unlike the other input blocks this always yields: an empty table
        # when no value was given.
        yield "result", data.value if data.value is not None else []
