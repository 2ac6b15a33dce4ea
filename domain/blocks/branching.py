"""Branching blocks: compare two values, or test an input for equality.

They mirror AutoGPT's ``branching.py`` blocks (same ids, pins and defaults).
Both yield ``result`` first and then exactly one of ``yes_output`` or
``no_output``, so a graph can route on either pin. Their outputs are on the
plain schema, as in AutoGPT's file: they have no automatic ``error`` pin.
"""

import enum
import operator
from collections.abc import Callable
from typing import Any

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchema,
    BlockSchemaInput,
    RunContext,
    SchemaField,
)


class ComparisonOperator(enum.Enum):
    """The condition's operators; values are what a graph's JSON holds."""

    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN_OR_EQUAL = "<="


_COMPARISONS: dict[ComparisonOperator, Callable[[Any, Any], Any]] = {
    ComparisonOperator.EQUAL: operator.eq,
    ComparisonOperator.NOT_EQUAL: operator.ne,
    ComparisonOperator.GREATER_THAN: operator.gt,
    ComparisonOperator.LESS_THAN: operator.lt,
    ComparisonOperator.GREATER_THAN_OR_EQUAL: operator.ge,
    ComparisonOperator.LESS_THAN_OR_EQUAL: operator.le,
}


def _as_number_if_possible(value: Any) -> Any:
    """A string operand, stripped, as a float when it parses as one.

    So "10" > "9" compares numbers, and " a " == "a". Non-strings are untouched.
    """
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    try:
        return float(stripped)
    except ValueError:
        return stripped


class ConditionBlock(Block):
    """Compares value1 with value2 and routes to yes_output or no_output."""

    id = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
    pure = True
    description = "Handles conditional logic based on comparison operators"
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        value1: Any = SchemaField(
            description="Enter the first value for comparison",
            placeholder="For example: 10 or 'hello' or True",
        )
        operator: ComparisonOperator = SchemaField(
            description="Choose the comparison operator",
            placeholder="Select an operator",
        )
        value2: Any = SchemaField(
            description="Enter the second value for comparison",
            placeholder="For example: 20 or 'world' or False",
        )
        yes_value: Any = SchemaField(
            default=None,
            description=("(Optional) Value to output if the condition is true. If not provided, value1 will be used."),
            placeholder="Leave empty to use value1, or enter a specific value",
        )
        # AutoGPT's text says value1, but the block falls back to value2.
        no_value: Any = SchemaField(
            default=None,
            description=("(Optional) Value to output if the condition is false. If not provided, value1 will be used."),
            placeholder="Leave empty to use value1, or enter a specific value",
        )

    class Output(BlockSchema):
        result: bool = SchemaField(description="The result of the condition evaluation (True or False)")
        yes_output: Any = SchemaField(description="The output value if the condition is true")
        no_output: Any = SchemaField(description="The output value if the condition is false")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        value1 = _as_number_if_possible(input_data.value1)
        value2 = _as_number_if_possible(input_data.value2)
        # The fallbacks are the converted operands (so "10" comes out as 10.0),
        # and no_value falls back to value2 despite the field's description.
        yes_value = input_data.yes_value if input_data.yes_value is not None else value1
        no_value = input_data.no_value if input_data.no_value is not None else value2

        # Incomparable operands (10 > "abc") raise TypeError and fail the node,
        # before anything is yielded, as in AutoGPT.
        result = _COMPARISONS[input_data.operator](value1, value2)

        yield "result", result
        if result:
            yield "yes_output", yes_value
        else:
            yield "no_output", no_value


class IfInputMatchesBlock(Block):
    """Tests input == value and routes to yes_output or no_output."""

    id = "6dbbc4b3-ca6c-42b6-b508-da52d23e13f2"
    pure = True
    description = "Handles conditional logic based on comparison operators"
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        input: Any = SchemaField(
            description="The input to match against",
            placeholder="For example: 10 or 'hello' or True",
        )
        value: Any = SchemaField(
            description="The value to output if the input matches",
            placeholder="For example: 'Greater' or 20 or False",
        )
        yes_value: Any = SchemaField(
            default=None,
            description="The value to output if the input matches",
            placeholder="For example: 'Greater' or 20 or False",
        )
        no_value: Any = SchemaField(
            default=None,
            description="The value to output if the input does not match",
            placeholder="For example: 'Greater' or 20 or False",
        )

    class Output(BlockSchema):
        result: bool = SchemaField(description="The result of the condition evaluation (True or False)")
        yes_output: Any = SchemaField(description="The output value if the condition is true")
        no_output: Any = SchemaField(description="The output value if the condition is false")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # No type coercion (10 does not match "10"); identity also matches, so
        # the very same nan object matches itself. yes/no values are yielded
        # even when they are None.
        if input_data.input == input_data.value or input_data.input is input_data.value:
            yield "result", True
            yield "yes_output", input_data.yes_value
        else:
            yield "result", False
            yield "no_output", input_data.no_value
