"""Maths blocks: a two-number calculator and an item counter.

They mirror AutoGPT's ``maths.py`` blocks (same ids, pins and defaults). Both
turn failures into sentinel values instead of errors, as AutoGPT does: the
calculator yields ``inf`` or ``nan``, the counter yields ``-1``.
"""

import enum
import math
import operator
from collections.abc import Callable
from typing import Any

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class Operation(enum.Enum):
    """The calculator's operations; values are what a graph's JSON holds."""

    ADD = "Add"
    SUBTRACT = "Subtract"
    MULTIPLY = "Multiply"
    DIVIDE = "Divide"
    POWER = "Power"


_OPERATIONS: dict[Operation, Callable[[float, float], Any]] = {
    Operation.ADD: operator.add,
    Operation.SUBTRACT: operator.sub,
    Operation.MULTIPLY: operator.mul,
    Operation.DIVIDE: operator.truediv,
    Operation.POWER: operator.pow,
}


class CalculatorBlock(Block):
    """Yields ``a (operation) b``, optionally rounded to a whole number."""

    id = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
    pure = True
    description = "Performs a mathematical operation on two numbers."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        operation: Operation = SchemaField(
            description="Choose the math operation you want to perform",
            placeholder="Select an operation",
        )
        a: float = SchemaField(description="Enter the first number (A)", placeholder="For example: 10")
        b: float = SchemaField(description="Enter the second number (B)", placeholder="For example: 5")
        round_result: bool = SchemaField(
            default=False,
            description="Do you want to round the result to a whole number?",
        )

    class Output(BlockSchemaOutput):
        result: float = SchemaField(description="The result of your calculation")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        yield "result", _calculate(input_data.operation, input_data.a, input_data.b, input_data.round_result)


def _calculate(operation: Operation, a: float, b: float, round_result: bool) -> Any:
    """AutoGPT's arithmetic, sentinels included.

    Division by zero is +inf whatever the sign of ``a`` (even 0/0), and any
    other arithmetic failure (overflow, rounding inf or nan) is nan. Python's
    ``round`` rounds halves to even and returns an int.
    """
    if operation is Operation.DIVIDE and b == 0:
        return math.inf
    try:
        result = _OPERATIONS[operation](a, b)
        return round(result) if round_result else result
    except ZeroDivisionError:
        # e.g. 0.0 ** -1: AutoGPT treats it like a division by zero.
        return math.inf
    except Exception:
        return math.nan


class CountItemsBlock(Block):
    """Yields how many items a collection holds, or -1 when it is not a collection."""

    id = "3c9c2f42-b0c3-435f-ba35-05f7a25c772a"
    pure = True
    description = "Counts the number of items in a collection."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        collection: Any = SchemaField(
            description=(
                "Enter the collection you want to count. This can be a list, dictionary, string, or any other iterable."
            ),
            placeholder="For example: [1, 2, 3] or {'a': 1, 'b': 2} or 'hello'",
        )

    class Output(BlockSchemaOutput):
        count: int = SchemaField(description="The number of items in the collection")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        yield "count", _count(input_data.collection)


def _count(collection: Any) -> int:
    """len() of sized builtins, else the number of iterated items, else -1.

    A string counts its characters. A non-iterable yields -1 rather than an
    error, as in AutoGPT.
    """
    try:
        if isinstance(collection, str | list | tuple | set | dict):
            return len(collection)
        if hasattr(collection, "__iter__"):
            return sum(1 for _ in collection)
    except Exception:
        return -1
    return -1
