"""The iteration block: step through a list or dictionary, one item at a time.

It mirrors AutoGPT's ``StepThroughItemsBlock`` (same id, pins and limits).
Each element becomes two yields, ``item`` then ``key``, so one run of the
node fans out into as many downstream executions as there are elements.
"""

import itertools
import json
from collections.abc import Iterator
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

MAX_ITEMS = 10_000
"""More entries than this in a list or dictionary fail the run."""

MAX_ITEMS_STR_LENGTH = 1024 * 1024
"""A longer ``items_str`` fails the run before it is parsed."""

_ITEMS_PLACEHOLDER = "[1, 2, 3, 4, 5] or {'key1': 'value1', 'key2': 'value2'}"
_ITEMS_DESCRIPTION = "The list or dictionary of items to iterate over"


class StepThroughItemsBlock(Block):
    """Yields each element of items, items_object and items_str with its key or index."""

    id = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
    pure = True
    description = "Iterates over a list or dictionary and outputs each item."
    categories = frozenset({BlockCategory.LOGIC})

    class Input(BlockSchemaInput):
        items: list[Any] = SchemaField(
            default_factory=list,
            description=_ITEMS_DESCRIPTION,
            placeholder=_ITEMS_PLACEHOLDER,
            advanced=False,
        )
        items_object: dict[Any, Any] = SchemaField(
            default_factory=dict,
            description=_ITEMS_DESCRIPTION,
            placeholder=_ITEMS_PLACEHOLDER,
            advanced=False,
        )
        items_str: str = SchemaField(
            default="",
            description=_ITEMS_DESCRIPTION,
            placeholder=_ITEMS_PLACEHOLDER,
            advanced=False,
        )

    # AutoGPT's file keeps this block on the plain schema: no automatic error pin.
    class Output(BlockSchema):
        item: Any = SchemaField(description="The current item in the iteration")
        key: Any = SchemaField(description="The key or index of the current item in the iteration")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # Every non-empty source is iterated, in this order; a failure in a
        # later source comes after the earlier sources' yields.
        sources: list[Any] = [input_data.items, input_data.items_object, input_data.items_str]
        for source in sources:
            if not source:
                continue
            for item, key in _elements(source):
                yield "item", item
                yield "key", key


def _elements(source: Any) -> Iterator[tuple[Any, Any]]:
    """``(item, key)`` pairs of one source: dict values with their keys, else items with indices.

    Raises ValueError for an oversized ``items_str`` or more than MAX_ITEMS
    entries, and lets a JSON error or a non-iterable JSON value (e.g. "5")
    fail the run, as AutoGPT does.
    """
    if isinstance(source, str):
        if len(source) > MAX_ITEMS_STR_LENGTH:
            raise ValueError(f"Input too large: {len(source)} bytes > {MAX_ITEMS_STR_LENGTH} bytes")
        source = json.loads(source)
    if isinstance(source, list | dict) and len(source) > MAX_ITEMS:
        raise ValueError(f"Too many items: {len(source)} > {MAX_ITEMS}")
    if isinstance(source, dict):
        yield from ((value, key) for key, value in source.items())
    else:
        # A JSON string parses to a str and is stepped through character by
        # character; past MAX_ITEMS characters the rest is dropped silently.
        yield from itertools.islice(((item, index) for index, item in enumerate(source)), MAX_ITEMS)
