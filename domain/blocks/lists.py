"""List blocks: create, add to, search, read, remove from, replace in and test a list.

They mirror AutoGPT's list manipulation blocks (same ids, pins, defaults and
error messages), so exported agents that use them import and behave
unchanged. All of them are pure: they copy what they change and never touch
their input. Lookups that fail yield on ``error`` (which fails the node),
except FindInListBlock, which reports a miss on ``found``.
"""

import json
import math
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
from domain.blocks.sizes import check_list_size

# The pins are named `list`, which shadows the builtin inside the schema class
# bodies; this alias keeps the annotations readable and unambiguous.
AnyList = list[Any]


def _empty_list() -> AnyList:
    return []


_CHARS_PER_TOKEN = 4


def estimate_tokens(value: Any) -> int:
    """Roughly how many LLM tokens ``value`` takes once serialised.

    Non-strings are measured as their JSON text, as AutoGPT does. AutoGPT
    counts with tiktoken's gpt-4o encoding, which this project does not
    depend on; one token per four characters is the usual estimate for it.
    """
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


class CreateListBlock(Block):
    """Yields the given values as a list, or as chunks of it when limits are set."""

    id = "a912d5c7-6e00-4542-b2a9-8034136930e4"
    pure = True
    description = (
        "Creates a list with the specified values. Use this when you know all the values you want "
        "to add upfront. This block can also yield the list in batches based on a maximum size or "
        "token limit."
    )
    categories = frozenset({BlockCategory.DATA})

    class Input(BlockSchemaInput):
        values: AnyList = SchemaField(
            description="A list of values to be combined into a new list.",
            placeholder="e.g., ['Alice', 25, True]",
        )
        max_size: int | None = SchemaField(
            default=None,
            description=("Maximum size of the list. If provided, the list will be yielded in chunks of this size."),
            advanced=True,
        )
        max_tokens: int | None = SchemaField(
            default=None,
            description=(
                "Maximum tokens for the list. If provided, the list will be yielded in chunks "
                "that fit within this token limit."
            ),
            advanced=True,
        )

    class Output(BlockSchemaOutput):
        list: AnyList = SchemaField(description="The created list containing the specified values.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # A limit of 0 counts as "no limit", as in AutoGPT (it tests truthiness).
        max_size = input_data.max_size or 0
        max_tokens = input_data.max_tokens or 0
        check_list_size(len(input_data.values), "The list")
        chunk: AnyList = []
        chunk_tokens = 0
        for value in input_data.values:
            tokens = estimate_tokens(value) if max_tokens else 0
            too_many_tokens = bool(max_tokens) and chunk_tokens + tokens > max_tokens
            too_many_items = bool(max_size) and len(chunk) + 1 > max_size
            if too_many_tokens or too_many_items:
                # AutoGPT quirk kept: a first value that alone exceeds
                # max_tokens flushes the still-empty chunk, yielding [].
                yield "list", chunk
                chunk, chunk_tokens = [value], tokens
            else:
                chunk.append(value)
                chunk_tokens += tokens
        if chunk or not input_data.values:
            yield "list", chunk


class AddToListBlock(Block):
    """Inserts entries (then entry) into a copy of the list, at position or at the end."""

    id = "aeb08fc1-2fc1-4141-bc8e-f758f183a822"
    pure = True
    description = (
        "Adds a new entry to a list. The entry can be of any type. If no list is provided, a new one is created."
    )
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(
            default_factory=_empty_list,
            description="The list to add the entry to. If not provided, a new list will be created.",
            advanced=False,
        )
        entry: Any = SchemaField(
            default=None,
            description="The entry to add to the list. Can be of any type (string, int, dict, etc.).",
            advanced=False,
        )
        entries: AnyList = SchemaField(
            default_factory=_empty_list,
            description="The entries to add to the list. This is the batch version of the `entry` field.",
            advanced=True,
        )
        position: int | None = SchemaField(
            default=None,
            description=(
                "The position to insert the new entry. If not provided, the entry will be "
                "appended to the end of the list."
            ),
        )

    class Output(BlockSchemaOutput):
        updated_list: AnyList = SchemaField(description="The list with the new entry added.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        added = list(input_data.entries)
        # Only None is skipped: falsy entries such as 0, "" or False are added.
        if input_data.entry is not None:
            added.append(input_data.entry)
        check_list_size(len(input_data.list) + len(added), "The updated list")
        current = list(input_data.list)
        position = input_data.position
        if position is None:
            yield "updated_list", current + added
        else:
            # A slice insert: out-of-range positions clamp to either end and
            # negative ones count from the end, as in AutoGPT.
            yield "updated_list", current[:position] + added + current[position:]


class FindInListBlock(Block):
    """Yields the index of the first occurrence of value, or reports it missing."""

    id = "5e2c6d0a-1e37-489f-b1d0-8e1812b23333"
    pure = True
    description = "Finds the index of the value in the list."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(description="The list to search in.")
        value: Any = SchemaField(description="The value to search for.")

    class Output(BlockSchemaOutput):
        index: int = SchemaField(description="The index of the value in the list.")
        found: bool = SchemaField(description="Whether the value was found in the list.")
        not_found_value: Any = SchemaField(description="The value that was not found in the list.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # Note the order differs between the two cases, as in AutoGPT:
        # index then found, or found then not_found_value. Never an error.
        try:
            index = input_data.list.index(input_data.value)
        except ValueError:
            yield "found", False
            yield "not_found_value", input_data.value
            return
        yield "index", index
        yield "found", True


class GetListItemBlock(Block):
    """Yields the item at an index (negative indices count from the end)."""

    id = "262ca24c-1025-43cf-a578-534e23234e97"
    pure = True
    description = "Returns the element at the given index."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(description="The list to get the item from.")
        index: int = SchemaField(description="The 0-based index of the item (supports negative indices).")

    class Output(BlockSchemaOutput):
        item: Any = SchemaField(description="The item at the specified index.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        try:
            item = input_data.list[input_data.index]
        except IndexError:
            yield "error", "Index out of range"
            return
        yield "item", item


class RemoveFromListBlock(Block):
    """Removes an item by index (preferred) or by value from a copy of the list."""

    id = "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826"
    pure = True
    description = "Removes an item from a list by value or index."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(description="The list to modify.")
        value: Any = SchemaField(default=None, description="Value to remove from the list.")
        index: int | None = SchemaField(
            default=None,
            description="Index of the item to pop (supports negative indices).",
        )
        return_item: bool = SchemaField(default=False, description="Whether to return the removed item.")

    class Output(BlockSchemaOutput):
        updated_list: AnyList = SchemaField(description="The list after removal.")
        removed_item: Any = SchemaField(description="The removed item if requested.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        updated = list(input_data.list)
        removed: Any
        try:
            if input_data.index is not None:
                # The index wins when both index and value are given.
                removed = updated.pop(input_data.index)
            elif input_data.value is not None:
                updated.remove(input_data.value)
                removed = input_data.value
            else:
                raise ValueError("No index or value provided for removal")
        except (IndexError, ValueError):
            # One message for a bad index, a missing value and no criterion.
            yield "error", "Index or value not found"
            return
        yield "updated_list", updated
        if input_data.return_item:
            yield "removed_item", removed


class ReplaceListItemBlock(Block):
    """Replaces the item at an index in a copy of the list and yields the old one."""

    id = "fbf62922-bea1-4a3d-8bac-23587f810b38"
    pure = True
    description = "Replaces an item at the specified index."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(description="The list to modify.")
        index: int = SchemaField(description="Index of the item to replace (supports negative indices).")
        value: Any = SchemaField(description="The new value for the given index.")

    class Output(BlockSchemaOutput):
        updated_list: AnyList = SchemaField(description="The list after replacement.")
        old_item: Any = SchemaField(description="The item that was replaced.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        updated = list(input_data.list)
        try:
            old_item = updated[input_data.index]
        except IndexError:
            yield "error", "Index out of range"
            return
        updated[input_data.index] = input_data.value
        yield "updated_list", updated
        yield "old_item", old_item


class ListIsEmptyBlock(Block):
    """Yields whether the list has no items."""

    id = "896ed73b-27d0-41be-813c-c1c1dc856c03"
    pure = True
    description = "Checks if a list is empty."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        list: AnyList = SchemaField(description="The list to check.")

    class Output(BlockSchemaOutput):
        is_empty: bool = SchemaField(description="True if the list is empty.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        yield "is_empty", len(input_data.list) == 0
