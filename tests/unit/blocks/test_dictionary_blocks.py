"""The dictionary blocks: given this input, the block yields these outputs.

Vectors are AutoGPT's own test vectors for these blocks, followed by the edge
cases their documented behaviour implies (missing keys, falsy values, lists
of dicts, objects, JSON text, no mutation of the input...).
"""

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
from domain.blocks.dictionary import (
    AddToDictionaryBlock,
    CreateDictionaryBlock,
    DictionaryIsEmptyBlock,
    FindInDictionaryBlock,
    RemoveFromDictionaryBlock,
    ReplaceDictionaryValueBlock,
)
from tests.unit.blocks.outputs import collect_outputs

Outputs = list[tuple[str, Any]]


async def run(block_cls: type[Block], data: dict[str, Any]) -> Outputs:
    """Every (pin, value) the block yields for this input, in order."""
    return await collect_outputs(block_cls(), data)


async def run_strict(block_cls: type[Block], data: dict[str, Any]) -> Outputs:
    """Run the way a graph node does: an `error` yield raises."""
    return [pair async for pair in block_cls().execute(data)]


# --------------------------------------------------------------------------
# Identity and pins
# --------------------------------------------------------------------------

BLOCK_FACTS = [
    pytest.param(
        CreateDictionaryBlock,
        "b924ddf4-de4f-4b56-9a85-358930dcbc91",
        {BlockCategory.DATA},
        {"values"},
        {"values"},
        {"dictionary", "error"},
        id="CreateDictionaryBlock",
    ),
    pytest.param(
        AddToDictionaryBlock,
        "31d1064e-7446-4693-a7d4-65e5ca1180d1",
        {BlockCategory.BASIC},
        {"dictionary", "key", "value", "entries"},
        set(),
        {"updated_dictionary", "error"},
        id="AddToDictionaryBlock",
    ),
    pytest.param(
        FindInDictionaryBlock,
        "0e50422c-6dee-4145-83d6-3a5a392f65de",
        {BlockCategory.BASIC},
        {"input", "key"},
        {"input", "key"},
        {"output", "missing", "error"},
        id="FindInDictionaryBlock",
    ),
    pytest.param(
        RemoveFromDictionaryBlock,
        "46afe2ea-c613-43f8-95ff-6692c3ef6876",
        {BlockCategory.BASIC},
        {"dictionary", "key", "return_value"},
        {"dictionary", "key"},
        {"updated_dictionary", "removed_value", "error"},
        id="RemoveFromDictionaryBlock",
    ),
    pytest.param(
        ReplaceDictionaryValueBlock,
        "27e31876-18b6-44f3-ab97-f6226d8b3889",
        {BlockCategory.BASIC},
        {"dictionary", "key", "value"},
        {"dictionary", "key", "value"},
        {"updated_dictionary", "old_value", "error"},
        id="ReplaceDictionaryValueBlock",
    ),
    pytest.param(
        DictionaryIsEmptyBlock,
        "a3cf3f64-6bb9-4cc6-9900-608a0b3359b0",
        {BlockCategory.BASIC},
        {"dictionary"},
        {"dictionary"},
        {"is_empty", "error"},
        id="DictionaryIsEmptyBlock",
    ),
]


@pytest.mark.parametrize(("block_cls", "block_id", "categories", "inputs", "required", "outputs"), BLOCK_FACTS)
def test_block_identity_and_pins(
    block_cls: type[Block],
    block_id: str,
    categories: set[BlockCategory],
    inputs: set[str],
    required: set[str],
    outputs: set[str],
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert set(block_cls.categories) == categories
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


@pytest.mark.parametrize(
    ("block_cls", "description"),
    [
        (
            CreateDictionaryBlock,
            "Creates a dictionary with the specified key-value pairs. "
            "Use this when you know all the values you want to add upfront.",
        ),
        (
            AddToDictionaryBlock,
            "Adds a new key-value pair to a dictionary. If no dictionary is provided, a new one is created.",
        ),
        (
            FindInDictionaryBlock,
            "A block that looks up a value in a dictionary, list, or object by key or index "
            "and returns the corresponding value.",
        ),
        (RemoveFromDictionaryBlock, "Removes a key-value pair from a dictionary."),
        (ReplaceDictionaryValueBlock, "Replaces the value for a specified key in a dictionary."),
        (DictionaryIsEmptyBlock, "Checks if a dictionary is empty."),
    ],
)
def test_block_description(block_cls: type[Block], description: str) -> None:
    assert block_cls.description == description
    assert block_cls.info()["description"] == description


def test_add_to_dictionary_input_schema_defaults_and_advanced_flags() -> None:
    # dictionary and entries default to a fresh empty dict (a default factory,
    # as in AutoGPT, so the JSON Schema shows no literal default for them).
    defaults = AddToDictionaryBlock.Input()
    assert (defaults.dictionary, defaults.key, defaults.value, defaults.entries) == ({}, "", None, {})
    assert AddToDictionaryBlock.Input().dictionary is not defaults.dictionary
    props = AddToDictionaryBlock.Input.jsonschema()["properties"]
    assert props["key"]["default"] == ""
    assert props["key"]["placeholder"] == "new_key"
    assert props["value"]["default"] is None
    assert props["value"]["placeholder"] == "new_value"
    assert [props[name]["advanced"] for name in ("dictionary", "key", "value", "entries")] == [
        False,
        False,
        False,
        True,
    ]


def test_create_dictionary_schema_placeholder_and_error_pin() -> None:
    values = CreateDictionaryBlock.Input.jsonschema()["properties"]["values"]
    assert values["placeholder"] == "e.g., {'name': 'Alice', 'age': 25}"
    assert values["type"] == "object"
    # The block redeclares the error pin with its own wording and no default.
    out = CreateDictionaryBlock.Output.jsonschema()
    assert out["properties"]["error"]["description"] == "Error message if dictionary creation failed"
    assert set(out["required"]) == {"dictionary", "error"}


def test_remove_from_dictionary_return_value_defaults_to_false() -> None:
    prop = RemoveFromDictionaryBlock.Input.jsonschema()["properties"]["return_value"]
    assert prop["default"] is False
    assert prop["advanced"] is False


@pytest.mark.parametrize(
    "block_cls",
    [FindInDictionaryBlock, RemoveFromDictionaryBlock, ReplaceDictionaryValueBlock],
)
def test_key_pin_accepts_string_or_integer(block_cls: type[Block]) -> None:
    key = block_cls.Input.jsonschema()["properties"]["key"]
    assert {option["type"] for option in key["anyOf"]} == {"string", "integer"}


# --------------------------------------------------------------------------
# CreateDictionaryBlock
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        (
            {"values": {"name": "Alice", "age": 25, "city": "New York"}},
            [("dictionary", {"name": "Alice", "age": 25, "city": "New York"})],
        ),
        (
            {"values": {"numbers": [1, 2, 3], "active": True, "score": 95.5}},
            [("dictionary", {"numbers": [1, 2, 3], "active": True, "score": 95.5})],
        ),
        # edge cases
        ({"values": {}}, [("dictionary", {})]),
        ({"values": {"nested": {"a": None}}}, [("dictionary", {"nested": {"a": None}})]),
    ],
)
async def test_create_dictionary(given: dict[str, Any], expected: Outputs) -> None:
    assert await run(CreateDictionaryBlock, given) == expected


@pytest.mark.parametrize(
    "given",
    [{}, {"values": None}, {"values": ["not", "a", "dict"]}, {"values": "text"}],
)
async def test_create_dictionary_needs_a_dictionary(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(CreateDictionaryBlock, given)


# --------------------------------------------------------------------------
# AddToDictionaryBlock
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        pytest.param(
            {"dictionary": {"existing_key": "existing_value"}, "key": "new_key", "value": "new_value"},
            [("updated_dictionary", {"existing_key": "existing_value", "new_key": "new_value"})],
            id="adds-key-value",
        ),
        pytest.param(
            {"key": "first_key", "value": "first_value"},
            [("updated_dictionary", {"first_key": "first_value"})],
            id="no-dictionary-creates-one",
        ),
        pytest.param(
            {
                "dictionary": {"existing_key": "existing_value"},
                "entries": {"new_key": "new_value", "first_key": "first_value"},
            },
            [
                (
                    "updated_dictionary",
                    {"existing_key": "existing_value", "new_key": "new_value", "first_key": "first_value"},
                )
            ],
            id="batch-entries",
        ),
        # edge cases from the behaviour text
        pytest.param({}, [("updated_dictionary", {})], id="nothing-given"),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "", "value": "ignored"},
            [("updated_dictionary", {"a": 1})],
            id="empty-key-adds-nothing",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "b", "value": None},
            [("updated_dictionary", {"a": 1})],
            id="none-value-adds-nothing",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "b"},
            [("updated_dictionary", {"a": 1})],
            id="key-without-value-adds-nothing",
        ),
        pytest.param(
            {"key": "zero", "value": 0},
            [("updated_dictionary", {"zero": 0})],
            id="zero-is-added",
        ),
        pytest.param(
            {"key": "off", "value": False},
            [("updated_dictionary", {"off": False})],
            id="false-is-added",
        ),
        pytest.param(
            {"key": "blank", "value": ""},
            [("updated_dictionary", {"blank": ""})],
            id="empty-string-is-added",
        ),
        pytest.param(
            {"key": "items", "value": []},
            [("updated_dictionary", {"items": []})],
            id="empty-list-is-added",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "a", "value": 2},
            [("updated_dictionary", {"a": 2})],
            id="existing-key-is-overwritten",
        ),
        pytest.param(
            {"key": "a", "value": "from key", "entries": {"a": "from entries", "b": 2}},
            [("updated_dictionary", {"a": "from entries", "b": 2})],
            id="entries-win-over-key-value",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "b", "value": 2, "entries": {"c": 3}},
            [("updated_dictionary", {"a": 1, "b": 2, "c": 3})],
            id="key-value-and-entries-together",
        ),
        pytest.param(
            {"entries": {"a": None}},
            [("updated_dictionary", {"a": None})],
            id="entries-may-hold-none",
        ),
    ],
)
async def test_add_to_dictionary(given: dict[str, Any], expected: Outputs) -> None:
    assert await run(AddToDictionaryBlock, given) == expected


async def test_add_to_dictionary_leaves_the_input_unchanged() -> None:
    original = {"a": 1}
    outputs = await run(AddToDictionaryBlock, {"dictionary": original, "key": "b", "value": 2})
    assert outputs == [("updated_dictionary", {"a": 1, "b": 2})]
    assert original == {"a": 1}


async def test_add_to_dictionary_never_errors() -> None:
    assert await run_strict(AddToDictionaryBlock, {"key": "", "value": None}) == [("updated_dictionary", {})]


@pytest.mark.parametrize("given", [{"dictionary": [1, 2]}, {"entries": "a=b"}, {"key": ["not", "a", "string"]}])
async def test_add_to_dictionary_rejects_wrong_types(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(AddToDictionaryBlock, given)


# --------------------------------------------------------------------------
# FindInDictionaryBlock
# --------------------------------------------------------------------------


class MockObject:
    """Stands in for AutoGPT's MockObject: an object whose attributes are its kwargs."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        pytest.param(
            {"input": {"apple": 1, "banana": 2, "cherry": 3}, "key": "banana"},
            [("output", 2)],
            id="dict-key-found",
        ),
        pytest.param(
            {"input": {"x": 10, "y": 20, "z": 30}, "key": "w"},
            [("missing", {"x": 10, "y": 20, "z": 30})],
            id="dict-key-missing",
        ),
        pytest.param({"input": [1, 2, 3], "key": 1}, [("output", 2)], id="list-index-in-range"),
        pytest.param({"input": [1, 2, 3], "key": 3}, [("missing", [1, 2, 3])], id="list-index-out-of-range"),
        pytest.param(
            {"input": MockObject(value="!!", key="key"), "key": "key"},
            [("output", "key")],
            id="object-attribute",
        ),
        pytest.param(
            {"input": [{"k1": "v1"}, {"k2": "v2"}, {"k1": "v3"}], "key": "k1"},
            [("output", ["v1", "v3"])],
            id="list-of-dicts-collects-the-key",
        ),
        # edge cases from the behaviour text
        pytest.param({"input": {"a": 0}, "key": "a"}, [("output", 0)], id="falsy-value-is-found"),
        pytest.param({"input": {"a": None}, "key": "a"}, [("output", None)], id="none-value-is-found"),
        pytest.param({"input": {1: "one"}, "key": 1}, [("output", "one")], id="integer-dict-key"),
        pytest.param(
            {"input": {"1": "one"}, "key": 1},
            [("missing", {"1": "one"})],
            id="integer-key-does-not-match-string-key",
        ),
        pytest.param({"input": [1, 2, 3], "key": 0}, [("output", 1)], id="list-index-zero"),
        pytest.param({"input": [1, 2, 3], "key": -1}, [("missing", [1, 2, 3])], id="negative-index-missing"),
        pytest.param({"input": [], "key": 0}, [("missing", [])], id="empty-list-index-missing"),
        pytest.param({"input": [], "key": "k"}, [("output", [])], id="empty-list-string-key"),
        pytest.param(
            {"input": [{"k": 1}, {"k": 2}], "key": "other"},
            [("output", [])],
            id="list-of-dicts-without-the-key",
        ),
        pytest.param(
            # The first item decides: it lacks the key, so attributes are
            # collected instead, and dicts have no such attribute.
            {"input": [{"k2": "v2"}, {"k1": "v3"}], "key": "k1"},
            [("output", [])],
            id="first-dict-without-key-yields-empty-list",
        ),
        pytest.param(
            {"input": [MockObject(name="a"), MockObject(other=1), MockObject(name="c")], "key": "name"},
            [("output", ["a", "c"])],
            id="list-of-objects-collects-attributes",
        ),
        pytest.param(
            {"input": MockObject(value="!!"), "key": "key"},
            "missing-object",
            id="object-without-attribute",
        ),
        pytest.param({"input": 42, "key": 0}, [("missing", 42)], id="integer-key-on-a-number"),
        pytest.param({"input": {"a": 1}, "key": 0}, [("missing", {"a": 1})], id="integer-key-on-dict"),
        # Text is parsed as JSON first; `missing` still carries the text.
        pytest.param({"input": '{"a": {"b": 1}}', "key": "a"}, [("output", {"b": 1})], id="json-object-text"),
        pytest.param({"input": '{"a": 1}', "key": "b"}, [("missing", '{"a": 1}')], id="json-text-missing-key"),
        pytest.param({"input": "[10, 20, 30]", "key": 2}, [("output", 30)], id="json-array-text-index"),
        pytest.param({"input": "[10, 20]", "key": 5}, [("missing", "[10, 20]")], id="json-array-text-missing"),
        pytest.param(
            {"input": '[{"id": 1}, {"id": 2}]', "key": "id"},
            [("output", [1, 2])],
            id="json-list-of-objects-text",
        ),
        pytest.param({"input": "null", "key": "a"}, [("missing", "null")], id="json-null-text"),
    ],
)
async def test_find_in_dictionary(given: dict[str, Any], expected: Outputs | str) -> None:
    outputs = await run(FindInDictionaryBlock, given)
    if expected == "missing-object":
        # the very object given comes back on `missing`
        assert outputs == [("missing", given["input"])]
        assert outputs[0][1] is given["input"]
    else:
        assert outputs == expected


async def test_find_in_dictionary_yields_exactly_once() -> None:
    for given in (
        {"input": {"a": 1}, "key": "a"},
        {"input": {"a": 1}, "key": "b"},
        {"input": [{"a": 1}, {"a": 2}], "key": "a"},
    ):
        assert len(await run(FindInDictionaryBlock, given)) == 1


async def test_find_in_dictionary_any_attribute_of_the_input_counts() -> None:
    # As in AutoGPT, a dict without the key still has methods: "keys" finds
    # the dict's own bound `keys` method instead of going to `missing`.
    outputs = await run(FindInDictionaryBlock, {"input": {"a": 1}, "key": "keys"})
    assert [pin for pin, _ in outputs] == ["output"]
    found = outputs[0][1]
    assert callable(found)
    assert list(found()) == ["a"]


async def test_find_in_dictionary_json_text_of_a_number_exposes_its_attributes() -> None:
    # "5" parses to the number 5, whose `real` attribute is 5.
    assert await run(FindInDictionaryBlock, {"input": "5", "key": "real"}) == [("output", 5)]


async def test_find_in_dictionary_integer_key_on_an_object_is_missing() -> None:
    obj = MockObject(value=1)
    assert await run(FindInDictionaryBlock, {"input": obj, "key": 0}) == [("missing", obj)]


@pytest.mark.parametrize("text", ["MockObject(value='!!', key='key')", "plain words", "", "{'a': 1}", "NaN"])
async def test_find_in_dictionary_text_that_is_not_json_fails_the_block(text: str) -> None:
    # AutoGPT's JSON parser raises on such text, so the node fails rather
    # than routing the text to `missing`.
    with pytest.raises(BlockExecutionError):
        await run_strict(FindInDictionaryBlock, {"input": text, "key": "key"})


@pytest.mark.parametrize(
    "given",
    [{"key": "a"}, {"input": {"a": 1}}, {"input": None, "key": "a"}, {"input": {"a": 1}, "key": 1.5}],
)
async def test_find_in_dictionary_input_and_key_are_required(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(FindInDictionaryBlock, given)


async def test_find_in_dictionary_string_digit_key_is_not_an_index() -> None:
    # "1" stays a string, so on a list of numbers it collects attributes named "1": none.
    assert await run(FindInDictionaryBlock, {"input": [1, 2, 3], "key": "1"}) == [("output", [])]


# --------------------------------------------------------------------------
# RemoveFromDictionaryBlock
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        pytest.param(
            {"dictionary": {"a": 1, "b": 2, "c": 3}, "key": "b", "return_value": True},
            [("updated_dictionary", {"a": 1, "c": 3}), ("removed_value", 2)],
            id="remove-and-return-value",
        ),
        pytest.param(
            {"dictionary": {"x": "hello", "y": "world"}, "key": "x"},
            [("updated_dictionary", {"y": "world"})],
            id="remove-without-returning",
        ),
        # edge cases
        pytest.param(
            {"dictionary": {"a": 1}, "key": "a", "return_value": False},
            [("updated_dictionary", {})],
            id="return-value-false",
        ),
        pytest.param(
            {"dictionary": {"a": None}, "key": "a", "return_value": True},
            [("updated_dictionary", {}), ("removed_value", None)],
            id="removed-none-is-still-yielded",
        ),
        pytest.param(
            {"dictionary": {"a": 0, "b": 1}, "key": "a", "return_value": True},
            [("updated_dictionary", {"b": 1}), ("removed_value", 0)],
            id="removed-falsy-value",
        ),
        pytest.param(
            {"dictionary": {1: "one", 2: "two"}, "key": 1, "return_value": True},
            [("updated_dictionary", {2: "two"}), ("removed_value", "one")],
            id="integer-key",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "z"},
            [("error", "Key 'z' not found in dictionary")],
            id="missing-key-is-an-error",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "z", "return_value": True},
            [("error", "Key 'z' not found in dictionary")],
            id="missing-key-yields-nothing-else",
        ),
        pytest.param(
            {"dictionary": {}, "key": "a"},
            [("error", "Key 'a' not found in dictionary")],
            id="empty-dictionary",
        ),
        pytest.param(
            {"dictionary": {"1": "one"}, "key": 1},
            [("error", "Key '1' not found in dictionary")],
            id="integer-key-does-not-match-string-key",
        ),
    ],
)
async def test_remove_from_dictionary(given: dict[str, Any], expected: Outputs) -> None:
    assert await run(RemoveFromDictionaryBlock, given) == expected


async def test_remove_from_dictionary_missing_key_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError, match=r"^Key 'z' not found in dictionary$"):
        await run_strict(RemoveFromDictionaryBlock, {"dictionary": {"a": 1}, "key": "z"})


async def test_remove_from_dictionary_leaves_the_input_unchanged() -> None:
    original = {"a": 1, "b": 2}
    await run(RemoveFromDictionaryBlock, {"dictionary": original, "key": "a"})
    assert original == {"a": 1, "b": 2}


@pytest.mark.parametrize("given", [{"key": "a"}, {"dictionary": {"a": 1}}, {"dictionary": "a", "key": "a"}])
async def test_remove_from_dictionary_needs_dictionary_and_key(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(RemoveFromDictionaryBlock, given)


# --------------------------------------------------------------------------
# ReplaceDictionaryValueBlock
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        pytest.param(
            {"dictionary": {"a": 1, "b": 2, "c": 3}, "key": "b", "value": 99},
            [("updated_dictionary", {"a": 1, "b": 99, "c": 3}), ("old_value", 2)],
            id="replace-number",
        ),
        pytest.param(
            {"dictionary": {"x": "hello", "y": "world"}, "key": "y", "value": "universe"},
            [("updated_dictionary", {"x": "hello", "y": "universe"}), ("old_value", "world")],
            id="replace-text",
        ),
        # edge cases
        pytest.param(
            {"dictionary": {"a": 1}, "key": "a", "value": 0},
            [("updated_dictionary", {"a": 0}), ("old_value", 1)],
            id="falsy-new-value",
        ),
        pytest.param(
            {"dictionary": {"a": None}, "key": "a", "value": "set"},
            [("updated_dictionary", {"a": "set"}), ("old_value", None)],
            id="old-value-none",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "a", "value": 1},
            [("updated_dictionary", {"a": 1}), ("old_value", 1)],
            id="same-value",
        ),
        pytest.param(
            {"dictionary": {1: "one"}, "key": 1, "value": "uno"},
            [("updated_dictionary", {1: "uno"}), ("old_value", "one")],
            id="integer-key",
        ),
        pytest.param(
            {"dictionary": {"a": 1}, "key": "z", "value": 5},
            [("error", "Key 'z' not found in dictionary")],
            id="missing-key-is-not-inserted",
        ),
        pytest.param(
            {"dictionary": {}, "key": "a", "value": 5},
            [("error", "Key 'a' not found in dictionary")],
            id="empty-dictionary",
        ),
    ],
)
async def test_replace_dictionary_value(given: dict[str, Any], expected: Outputs) -> None:
    assert await run(ReplaceDictionaryValueBlock, given) == expected


async def test_replace_dictionary_value_missing_key_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError, match=r"^Key 'z' not found in dictionary$"):
        await run_strict(ReplaceDictionaryValueBlock, {"dictionary": {"a": 1}, "key": "z", "value": 5})


async def test_replace_dictionary_value_leaves_the_input_unchanged() -> None:
    original = {"a": 1}
    await run(ReplaceDictionaryValueBlock, {"dictionary": original, "key": "a", "value": 2})
    assert original == {"a": 1}


@pytest.mark.parametrize(
    "given",
    [
        {"key": "a", "value": 1},
        {"dictionary": {"a": 1}, "value": 1},
        {"dictionary": {"a": 1}, "key": "a"},
        # None values are dropped before validation, so None cannot be the new value.
        {"dictionary": {"a": 1}, "key": "a", "value": None},
    ],
)
async def test_replace_dictionary_value_needs_dictionary_key_and_value(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(ReplaceDictionaryValueBlock, given)


# --------------------------------------------------------------------------
# DictionaryIsEmptyBlock
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # AutoGPT's test vectors
        ({"dictionary": {}}, [("is_empty", True)]),
        ({"dictionary": {"a": 1}}, [("is_empty", False)]),
        # edge cases: a key whose value is empty still counts
        ({"dictionary": {"a": None}}, [("is_empty", False)]),
        ({"dictionary": {"": ""}}, [("is_empty", False)]),
    ],
)
async def test_dictionary_is_empty(given: dict[str, Any], expected: Outputs) -> None:
    assert await run(DictionaryIsEmptyBlock, given) == expected


@pytest.mark.parametrize("given", [{}, {"dictionary": None}, {"dictionary": []}, {"dictionary": ""}])
async def test_dictionary_is_empty_needs_a_dictionary(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await run(DictionaryIsEmptyBlock, given)


# --------------------------------------------------------------------------
# The strict (graph node) path yields the same outputs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "given", "expected"),
    [
        (CreateDictionaryBlock, {"values": {"a": 1}}, [("dictionary", {"a": 1})]),
        (AddToDictionaryBlock, {"key": "a", "value": 1}, [("updated_dictionary", {"a": 1})]),
        (FindInDictionaryBlock, {"input": {"a": 1}, "key": "a"}, [("output", 1)]),
        (FindInDictionaryBlock, {"input": {"a": 1}, "key": "b"}, [("missing", {"a": 1})]),
        (
            RemoveFromDictionaryBlock,
            {"dictionary": {"a": 1}, "key": "a", "return_value": True},
            [("updated_dictionary", {}), ("removed_value", 1)],
        ),
        (
            ReplaceDictionaryValueBlock,
            {"dictionary": {"a": 1}, "key": "a", "value": 2},
            [("updated_dictionary", {"a": 2}), ("old_value", 1)],
        ),
        (DictionaryIsEmptyBlock, {"dictionary": {}}, [("is_empty", True)]),
    ],
)
async def test_execute_yields_the_same_outputs(
    block_cls: type[Block], given: dict[str, Any], expected: Outputs
) -> None:
    assert await run_strict(block_cls, given) == expected
