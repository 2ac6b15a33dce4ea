"""Basic blocks: store a value, print it, annotate the graph, convert a value's type.

These mirror AutoGPT's blocks of the same names (same ids, pins, defaults and
outputs), so exported agents that use them import and behave unchanged.
"""

from __future__ import annotations

import enum
from typing import Any

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)
from domain.blocks.conversion import convert


class StoreValueBlock(Block):
    """Forwards its stored ``data`` (or, failing that, its ``input``) each time it is triggered."""

    id = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
    pure = True
    description = (
        "A basic block that stores and forwards a value throughout workflows, "
        "allowing it to be reused without changes across multiple blocks."
    )
    categories = frozenset({BlockCategory.BASIC})
    static_output = True

    class Input(BlockSchemaInput):
        input: Any = SchemaField(
            description=("Trigger the block to produce the output. The value is only used when `data` is None.")
        )
        data: Any = SchemaField(
            default=None,
            description=("The constant data to be retained in the block. This value is passed as `output`."),
        )

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The stored data retained in the block.")

    async def run(self, input_data: StoreValueBlock.Input, context: RunContext) -> BlockOutput:
        # AutoGPT uses `data or input`: despite the pin text, any falsy data
        # (0, "", [], False), not only None, falls back to the trigger input.
        yield "output", input_data.data or input_data.input


class PrintToConsoleBlock(Block):
    """Passes its text through and reports it as printed (a debugging aid)."""

    id = "f3b1c1b2-4c4f-4f0d-8d2f-4c4f0d8d2f4c"
    pure = True
    description = (
        "A debugging block that outputs text to the console for monitoring and troubleshooting workflow execution."
    )
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="The data to print to the console.")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="The data printed to the console.")
        status: str = SchemaField(description="The status of the print operation.")

    async def run(self, input_data: PrintToConsoleBlock.Input, context: RunContext) -> BlockOutput:
        # Like AutoGPT's current version this prints nothing: the node's
        # outputs, visible in the run, are the "console".
        yield "output", input_data.text
        yield "status", "printed"


class NoteBlock(Block):
    """A sticky note on the editor canvas; never scheduled in a run."""

    id = "cc10ff7b-7753-4ff2-9af6-9399b1a7eddc"
    pure = True
    description = (
        "A visual annotation block that displays a sticky note in the workflow editor "
        "for documentation and organization purposes."
    )
    categories = frozenset({BlockCategory.BASIC})
    block_type = BlockType.NOTE

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to display in the sticky note.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="The text to display in the sticky note.")

    async def run(self, input_data: NoteBlock.Input, context: RunContext) -> BlockOutput:
        yield "output", input_data.text


class TypeOptions(enum.StrEnum):
    """The types UniversalTypeConverterBlock converts to."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    DICTIONARY = "dictionary"


# "number" means float, as in AutoGPT.
_PYTHON_TYPES: dict[TypeOptions, type] = {
    TypeOptions.STRING: str,
    TypeOptions.NUMBER: float,
    TypeOptions.BOOLEAN: bool,
    TypeOptions.LIST: list,
    TypeOptions.DICTIONARY: dict,
}


class UniversalTypeConverterBlock(Block):
    """Converts a value to a string, number, boolean, list or dictionary."""

    id = "95d1b990-ce13-4d88-9737-ba5c2070c97b"
    pure = True
    description = "This block is used to convert a value to a universal type."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        value: Any = SchemaField(description="The value to convert to a universal type.")
        type: TypeOptions = SchemaField(description="The type to convert the value to.")

    class Output(BlockSchemaOutput):
        value: Any = SchemaField(description="The converted value.")

    async def run(self, input_data: UniversalTypeConverterBlock.Input, context: RunContext) -> BlockOutput:
        try:
            converted: Any = convert(input_data.value, _PYTHON_TYPES[input_data.type])
        except Exception as exc:
            yield "error", f"Failed to convert value: {exc}"
        else:
            yield "value", converted
