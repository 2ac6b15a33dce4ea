"""Dictionary blocks: create, add to, look up in, remove from, replace in and test a dictionary.

These mirror AutoGPT's dictionary manipulation blocks (same ids, pins,
defaults and outputs), so exported agents that use them import and behave
unchanged. All of them are pure: they copy what they change and never touch
their input.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)


class CreateDictionaryBlock(Block):
    """Yields the dictionary made of the given key-value pairs."""

    id = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
    pure = True
    description = (
        "Creates a dictionary with the specified key-value pairs. "
        "Use this when you know all the values you want to add upfront."
    )
    categories = frozenset({BlockCategory.DATA})

    class Input(BlockSchemaInput):
        values: dict[str, Any] = SchemaField(
            description="Key-value pairs to create the dictionary with",
            placeholder="e.g., {'name': 'Alice', 'age': 25}",
        )

    class Output(BlockSchemaOutput):
        dictionary: dict[str, Any] = SchemaField(
            description="The created dictionary containing the specified key-value pairs"
        )
        # AutoGPT redeclares the automatic error pin here with its own
        # description and no default, so it shows as required in the schema.
        error: str = SchemaField(description="Error message if dictionary creation failed")

    async def run(self, input_data: CreateDictionaryBlock.Input, context: RunContext) -> BlockOutput:
        # Input validation already built the dictionary. In practice the
        # executor assembles `values` from dynamic pins (values_#_<key>).
        # AutoGPT wraps this yield in a try that would report
        # "Failed to create dictionary: ..." on `error`; nothing here can fail.
        yield "dictionary", input_data.values


class AddToDictionaryBlock(Block):
    """Adds a key-value pair and/or a batch of entries to a copy of a dictionary."""

    id = "31d1064e-7446-4693-a7d4-65e5ca1180d1"
    pure = True
    description = "Adds a new key-value pair to a dictionary. If no dictionary is provided, a new one is created."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(
            default_factory=dict,
            description=("The dictionary to add the entry to. If not provided, a new dictionary will be created."),
            advanced=False,
        )
        key: str = SchemaField(
            default="",
            description="The key for the new entry.",
            placeholder="new_key",
            advanced=False,
        )
        value: Any = SchemaField(
            default=None,
            description="The value for the new entry.",
            placeholder="new_value",
            advanced=False,
        )
        entries: dict[Any, Any] = SchemaField(
            default_factory=dict,
            description=(
                "The entries to add to the dictionary. This is the batch version of the `key` and `value` fields."
            ),
            advanced=True,
        )

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary with the new entry added.")

    async def run(self, input_data: AddToDictionaryBlock.Input, context: RunContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        # As in AutoGPT: an empty key or a None value silently adds nothing
        # (falsy values such as 0, "" or False are still added).
        if input_data.key and input_data.value is not None:
            updated[input_data.key] = input_data.value
        # The batch entries go in last, so they win over key/value.
        updated.update(input_data.entries)
        yield "updated_dictionary", updated


class FindInDictionaryBlock(Block):
    """Looks a key up in a dictionary, an index up in a list, or an attribute up on an object."""

    id = "0e50422c-6dee-4145-83d6-3a5a392f65de"
    pure = True
    description = (
        "A block that looks up a value in a dictionary, list, or object by key or index "
        "and returns the corresponding value."
    )
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        input: Any = SchemaField(description="Dictionary to lookup from")
        key: str | int = SchemaField(description="Key to lookup in the dictionary")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="Value found for the given key")
        missing: Any = SchemaField(description="Value of the input that missing the key")

    async def run(self, input_data: FindInDictionaryBlock.Input, context: RunContext) -> BlockOutput:
        original = input_data.input
        key = input_data.key
        # A string is taken to be JSON text; text that is not JSON makes the
        # block fail (AutoGPT's json.loads raises), it does not go to `missing`.
        obj = _parse_json(original) if isinstance(original, str) else original

        if isinstance(obj, dict) and key in obj:
            yield "output", obj[key]
        elif isinstance(obj, list) and isinstance(key, int) and 0 <= key < len(obj):
            # kept apart from the dict branch so the index type narrows to int
            yield "output", obj[key]
        elif isinstance(obj, list) and isinstance(key, str):
            # A list with a string key collects that field from every item.
            # AutoGPT decides how by looking at the FIRST item only: if it is a
            # dict holding the key, the dict items holding it are collected;
            # otherwise attributes are collected, so dict items then yield [].
            if not obj:
                yield "output", []
            elif isinstance(obj[0], dict) and key in obj[0]:
                yield "output", [item[key] for item in obj if key in item]
            else:
                yield "output", [getattr(item, key) for item in obj if hasattr(item, key)]
        elif isinstance(key, str) and hasattr(obj, key):
            # Any object (a dict or a JSON scalar included) with such an
            # attribute yields it, so e.g. key "keys" on a dict without that
            # key yields the dict's bound `keys` method, as in AutoGPT.
            yield "output", getattr(obj, key)
        else:
            # `missing` carries the input as given, not its parsed JSON.
            yield "missing", original


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"Invalid JSON constant: {name}")


def _parse_json(text: str) -> Any:
    """Parse JSON text strictly; NaN/Infinity are refused as AutoGPT's orjson does."""
    return json.loads(text, parse_constant=_reject_constant)


class RemoveFromDictionaryBlock(Block):
    """Removes a key from a copy of a dictionary, optionally yielding the removed value."""

    id = "46afe2ea-c613-43f8-95ff-6692c3ef6876"
    pure = True
    description = "Removes a key-value pair from a dictionary."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to modify.")
        key: str | int = SchemaField(description="Key to remove from the dictionary.")
        return_value: bool = SchemaField(default=False, description="Whether to return the removed value.")

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary after removal.")
        removed_value: Any = SchemaField(description="The removed value if requested.")

    async def run(self, input_data: RemoveFromDictionaryBlock.Input, context: RunContext) -> BlockOutput:
        updated = dict(input_data.dictionary)
        if input_data.key not in updated:
            yield "error", f"Key '{input_data.key}' not found in dictionary"
            return
        removed = updated.pop(input_data.key)
        yield "updated_dictionary", updated
        if input_data.return_value:
            yield "removed_value", removed


class ReplaceDictionaryValueBlock(Block):
    """Replaces the value of an existing key in a copy of a dictionary."""

    id = "27e31876-18b6-44f3-ab97-f6226d8b3889"
    pure = True
    description = "Replaces the value for a specified key in a dictionary."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to modify.")
        key: str | int = SchemaField(description="Key to replace the value for.")
        value: Any = SchemaField(description="The new value for the given key.")

    class Output(BlockSchemaOutput):
        updated_dictionary: dict[Any, Any] = SchemaField(description="The dictionary after replacement.")
        old_value: Any = SchemaField(description="The value that was replaced.")

    async def run(self, input_data: ReplaceDictionaryValueBlock.Input, context: RunContext) -> BlockOutput:
        # Only an existing key is replaced; a missing one is an error, never an insertion.
        if input_data.key not in input_data.dictionary:
            yield "error", f"Key '{input_data.key}' not found in dictionary"
            return
        updated = dict(input_data.dictionary)
        old_value = updated[input_data.key]
        updated[input_data.key] = input_data.value
        yield "updated_dictionary", updated
        yield "old_value", old_value


class DictionaryIsEmptyBlock(Block):
    """Tells whether a dictionary has no entries."""

    id = "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0"
    pure = True
    description = "Checks if a dictionary is empty."
    categories = frozenset({BlockCategory.BASIC})

    class Input(BlockSchemaInput):
        dictionary: dict[Any, Any] = SchemaField(description="The dictionary to check.")

    class Output(BlockSchemaOutput):
        is_empty: bool = SchemaField(description="True if the dictionary is empty.")

    async def run(self, input_data: DictionaryIsEmptyBlock.Input, context: RunContext) -> BlockOutput:
        yield "is_empty", len(input_data.dictionary) == 0
