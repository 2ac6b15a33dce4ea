"""The list blocks: AutoGPT's test vectors, index errors, negative indices and batching."""

from typing import Any

import pytest

from domain.blocks.base import (
    Block,
    BlockExecutionError,
    BlockInputError,
    BlockType,
)
from domain.blocks.lists import (
    AddToListBlock,
    CreateListBlock,
    FindInListBlock,
    GetListItemBlock,
    ListIsEmptyBlock,
    RemoveFromListBlock,
    ReplaceListItemBlock,
    estimate_tokens,
)
from tests.unit.blocks.outputs import collect_outputs


async def outputs_of(block: Block, data: dict[str, Any]) -> list[tuple[str, Any]]:
    return await collect_outputs(block, data)


# --- the blocks' identity and pins -------------------------------------------------


@pytest.mark.parametrize(
    ("block_cls", "block_id", "category", "inputs", "required", "outputs"),
    [
        (
            CreateListBlock,
            "a912d5c7-6e00-4542-b2a9-8034136930e4",
            "DATA",
            {"values", "max_size", "max_tokens"},
            {"values"},
            {"list", "error"},
        ),
        (
            AddToListBlock,
            "aeb08fc1-2fc1-4141-bc8e-f758f183a822",
            "BASIC",
            {"list", "entry", "entries", "position"},
            set(),
            {"updated_list", "error"},
        ),
        (
            FindInListBlock,
            "5e2c6d0a-1e37-489f-b1d0-8e1812b23333",
            "BASIC",
            {"list", "value"},
            {"list", "value"},
            {"index", "found", "not_found_value", "error"},
        ),
        (
            GetListItemBlock,
            "262ca24c-1025-43cf-a578-534e23234e97",
            "BASIC",
            {"list", "index"},
            {"list", "index"},
            {"item", "error"},
        ),
        (
            RemoveFromListBlock,
            "d93c5a93-ac7e-41c1-ae5c-ef67e6e9b826",
            "BASIC",
            {"list", "value", "index", "return_item"},
            {"list"},
            {"updated_list", "removed_item", "error"},
        ),
        (
            ReplaceListItemBlock,
            "fbf62922-bea1-4a3d-8bac-23587f810b38",
            "BASIC",
            {"list", "index", "value"},
            {"list", "index", "value"},
            {"updated_list", "old_item", "error"},
        ),
        (
            ListIsEmptyBlock,
            "896ed73b-27d0-41be-813c-c1c1dc856c03",
            "BASIC",
            {"list"},
            {"list"},
            {"is_empty", "error"},
        ),
    ],
)
def test_block_identity_and_pins(
    block_cls: type[Block],
    block_id: str,
    category: str,
    inputs: set[str],
    required: set[str],
    outputs: set[str],
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert [c["category"] for c in block_cls.info()["categories"]] == [category]
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


def test_advanced_flags_and_defaults_match_autogpt() -> None:
    create = CreateListBlock.Input.jsonschema()["properties"]
    assert create["max_size"]["advanced"] is True
    assert create["max_tokens"]["advanced"] is True
    assert create["max_size"]["default"] is None
    add = AddToListBlock.Input.jsonschema()["properties"]
    assert add["entries"]["advanced"] is True
    assert add["list"]["advanced"] is False
    assert add["entry"]["default"] is None
    assert add["position"]["default"] is None
    remove = RemoveFromListBlock.Input.jsonschema()["properties"]
    assert remove["return_item"]["default"] is False


def test_descriptions_match_autogpt() -> None:
    assert FindInListBlock.description == "Finds the index of the value in the list."
    assert GetListItemBlock.description == "Returns the element at the given index."
    assert RemoveFromListBlock.description == "Removes an item from a list by value or index."
    assert ReplaceListItemBlock.description == "Replaces an item at the specified index."
    assert ListIsEmptyBlock.description == "Checks if a list is empty."
    assert CreateListBlock.description.startswith("Creates a list with the specified values.")
    assert AddToListBlock.description.startswith("Adds a new entry to a list.")


# --- CreateListBlock -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Alice", 25, True], [("list", ["Alice", 25, True])]),
        ([1, 2, 3, "four", {"key": "value"}], [("list", [1, 2, 3, "four", {"key": "value"}])]),
    ],
    ids=["mixed scalars", "mixed with a dict"],
)
async def test_create_list_autogpt_vectors(values: list[Any], expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of(CreateListBlock(), {"values": values}) == expected


async def test_create_list_of_no_values_yields_one_empty_list() -> None:
    assert await outputs_of(CreateListBlock(), {"values": []}) == [("list", [])]
    assert await outputs_of(CreateListBlock(), {"values": [], "max_size": 2}) == [("list", [])]


@pytest.mark.parametrize(
    ("max_size", "expected"),
    [
        (2, [[1, 2], [3, 4], [5]]),
        (5, [[1, 2, 3, 4, 5]]),
        (1, [[1], [2], [3], [4], [5]]),
        (0, [[1, 2, 3, 4, 5]]),
    ],
    ids=["chunks of two", "one chunk when it fits", "chunks of one", "0 means no limit"],
)
async def test_create_list_with_max_size_yields_chunks(max_size: int, expected: list[list[int]]) -> None:
    outputs = await outputs_of(CreateListBlock(), {"values": [1, 2, 3, 4, 5], "max_size": max_size})
    assert outputs == [("list", chunk) for chunk in expected]


async def test_create_list_with_max_tokens_yields_chunks_that_fit() -> None:
    values = ["a" * 8, "b" * 8, "c" * 8, "d" * 4]
    limit = 2 * estimate_tokens("a" * 8)
    outputs = await outputs_of(CreateListBlock(), {"values": values, "max_tokens": limit})
    chunks = [value for _, value in outputs]
    assert chunks == [["a" * 8, "b" * 8], ["c" * 8, "d" * 4]]
    assert all(sum(estimate_tokens(v) for v in chunk) <= limit for chunk in chunks)


async def test_create_list_first_value_over_max_tokens_yields_an_empty_chunk_first() -> None:
    """AutoGPT quirk: a value that alone exceeds the limit flushes the empty chunk."""
    huge = "x" * 400
    outputs = await outputs_of(CreateListBlock(), {"values": [huge, "y"], "max_tokens": 1})
    assert outputs == [("list", []), ("list", [huge]), ("list", ["y"])]


async def test_create_list_applies_both_limits() -> None:
    values = ["a", "b", "c", "d", "e" * 40]
    outputs = await outputs_of(CreateListBlock(), {"values": values, "max_size": 3, "max_tokens": 5})
    # "d" starts a new chunk because of max_size, "e"*40 because of max_tokens.
    assert outputs == [("list", ["a", "b", "c"]), ("list", ["d"]), ("list", ["e" * 40])]


def test_token_estimate_measures_json_for_non_strings() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens({"k": "v"}) == estimate_tokens('{"k": "v"}')


async def test_create_list_requires_values() -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(CreateListBlock(), {})


# --- AddToListBlock ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {
                "list": [1, "string", {"existing_key": "existing_value"}],
                "entry": {"new_key": "new_value"},
                "position": 1,
            },
            [1, {"new_key": "new_value"}, "string", {"existing_key": "existing_value"}],
        ),
        ({"entry": "first_entry"}, ["first_entry"]),
        ({"list": ["a", "b", "c"], "entry": "d"}, ["a", "b", "c", "d"]),
        ({"entry": "e", "entries": ["f", "g"], "list": ["a", "b"], "position": 1}, ["a", "f", "g", "e", "b"]),
    ],
    ids=["insert a dict at 1", "no list creates one", "append", "entries then entry at 1"],
)
async def test_add_to_list_autogpt_vectors(given: dict[str, Any], expected: list[Any]) -> None:
    assert await outputs_of(AddToListBlock(), given) == [("updated_list", expected)]


@pytest.mark.parametrize(
    ("position", "expected"),
    [(0, ["x", "a", "b"]), (99, ["a", "b", "x"]), (-1, ["a", "x", "b"]), (-99, ["x", "a", "b"])],
    ids=["front", "past the end clamps", "negative counts from the end", "far negative clamps"],
)
async def test_add_to_list_position_is_a_slice_insert(position: int, expected: list[str]) -> None:
    given = {"list": ["a", "b"], "entry": "x", "position": position}
    assert await outputs_of(AddToListBlock(), given) == [("updated_list", expected)]


@pytest.mark.parametrize("falsy", [0, "", False, [], {}], ids=["0", "empty string", "False", "[]", "{}"])
async def test_add_to_list_adds_falsy_entries(falsy: Any) -> None:
    assert await outputs_of(AddToListBlock(), {"list": [1], "entry": falsy}) == [("updated_list", [1, falsy])]


async def test_add_to_list_without_entry_yields_the_list_unchanged() -> None:
    assert await outputs_of(AddToListBlock(), {"list": [1, 2], "entry": None}) == [("updated_list", [1, 2])]
    assert await outputs_of(AddToListBlock(), {}) == [("updated_list", [])]


async def test_add_to_list_with_only_entries_appends_them_all() -> None:
    assert await outputs_of(AddToListBlock(), {"list": [1], "entries": [2, 3]}) == [("updated_list", [1, 2, 3])]


async def test_add_to_list_does_not_change_its_input() -> None:
    original = ["a"]
    await outputs_of(AddToListBlock(), {"list": original, "entry": "b"})
    assert original == ["a"]


# --- FindInListBlock -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"list": [1, 2, 3, 4, 5], "value": 3}, [("index", 2), ("found", True)]),
        ({"list": [1, 2, 3, 4, 5], "value": 6}, [("found", False), ("not_found_value", 6)]),
    ],
    ids=["found", "not found"],
)
async def test_find_in_list_autogpt_vectors(given: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of(FindInListBlock(), given) == expected


async def test_find_in_list_reports_the_first_occurrence() -> None:
    given = {"list": ["a", "b", "a"], "value": "a"}
    assert await outputs_of(FindInListBlock(), given) == [("index", 0), ("found", True)]


async def test_find_in_list_uses_equality_without_type_coercion() -> None:
    assert await outputs_of(FindInListBlock(), {"list": [1, 2], "value": "2"}) == [
        ("found", False),
        ("not_found_value", "2"),
    ]
    assert await outputs_of(FindInListBlock(), {"list": [{"k": 1}], "value": {"k": 1}}) == [
        ("index", 0),
        ("found", True),
    ]


async def test_find_in_list_in_an_empty_list_is_a_miss_not_an_error() -> None:
    produced = [pair async for pair in FindInListBlock().execute({"list": [], "value": 0})]
    assert produced == [("found", False), ("not_found_value", 0)]


# --- GetListItemBlock ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "expected"), [(1, 2), (-1, 3)], ids=["index 1", "negative index counts from the end"]
)
async def test_get_list_item_autogpt_vectors(index: int, expected: int) -> None:
    assert await outputs_of(GetListItemBlock(), {"list": [1, 2, 3], "index": index}) == [("item", expected)]


@pytest.mark.parametrize(
    ("items", "index"),
    [([1, 2, 3], 3), ([1, 2, 3], -4), ([], 0)],
    ids=["past the end", "before the start", "empty"],
)
async def test_get_list_item_out_of_range_yields_an_error(items: list[int], index: int) -> None:
    assert await outputs_of(GetListItemBlock(), {"list": items, "index": index}) == [("error", "Index out of range")]


async def test_get_list_item_out_of_range_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError, match="Index out of range"):
        [pair async for pair in GetListItemBlock().execute({"list": [1], "index": 5})]


async def test_get_list_item_yields_a_falsy_item() -> None:
    assert await outputs_of(GetListItemBlock(), {"list": [None, 0], "index": 1}) == [("item", 0)]


# --- RemoveFromListBlock -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"list": [1, 2, 3], "index": 1, "return_item": True},
            [("updated_list", [1, 3]), ("removed_item", 2)],
        ),
        ({"list": ["a", "b", "c"], "value": "b"}, [("updated_list", ["a", "c"])]),
    ],
    ids=["by index, returning the item", "by value"],
)
async def test_remove_from_list_autogpt_vectors(given: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of(RemoveFromListBlock(), given) == expected


async def test_remove_from_list_by_negative_index() -> None:
    given = {"list": [1, 2, 3], "index": -1, "return_item": True}
    assert await outputs_of(RemoveFromListBlock(), given) == [("updated_list", [1, 2]), ("removed_item", 3)]


async def test_remove_from_list_index_takes_precedence_over_value() -> None:
    given = {"list": ["a", "b", "c"], "index": 0, "value": "c", "return_item": True}
    assert await outputs_of(RemoveFromListBlock(), given) == [
        ("updated_list", ["b", "c"]),
        ("removed_item", "a"),
    ]


async def test_remove_from_list_by_value_removes_the_first_occurrence_only() -> None:
    given = {"list": ["x", "y", "x"], "value": "x", "return_item": True}
    assert await outputs_of(RemoveFromListBlock(), given) == [
        ("updated_list", ["y", "x"]),
        ("removed_item", "x"),
    ]


async def test_remove_from_list_by_falsy_value() -> None:
    assert await outputs_of(RemoveFromListBlock(), {"list": [1, 0, 2], "value": 0}) == [("updated_list", [1, 2])]


@pytest.mark.parametrize(
    "given",
    [
        {"list": [1, 2], "index": 2},
        {"list": [1, 2], "index": -3},
        {"list": [1, 2], "value": 3},
        {"list": [1, 2]},
        {"list": [1, 2], "value": None, "index": None},
        {"list": [], "index": 0},
    ],
    ids=[
        "index past the end",
        "index before the start",
        "missing value",
        "neither",
        "both None",
        "empty list",
    ],
)
async def test_remove_from_list_failures_yield_one_error(given: dict[str, Any]) -> None:
    assert await outputs_of(RemoveFromListBlock(), given) == [("error", "Index or value not found")]


async def test_remove_from_list_failure_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError, match="Index or value not found"):
        [pair async for pair in RemoveFromListBlock().execute({"list": [1], "value": 9})]


async def test_remove_from_list_does_not_change_its_input() -> None:
    original = [1, 2, 3]
    await outputs_of(RemoveFromListBlock(), {"list": original, "index": 0})
    assert original == [1, 2, 3]


# --- ReplaceListItemBlock ------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"list": [1, 2, 3], "index": 1, "value": 99}, [("updated_list", [1, 99, 3]), ("old_item", 2)]),
        ({"list": ["a", "b"], "index": -1, "value": "c"}, [("updated_list", ["a", "c"]), ("old_item", "b")]),
    ],
    ids=["index 1", "negative index"],
)
async def test_replace_list_item_autogpt_vectors(given: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    assert await outputs_of(ReplaceListItemBlock(), given) == expected


@pytest.mark.parametrize(
    ("items", "index"),
    [([1, 2], 2), ([1, 2], -3), ([], 0)],
    ids=["past the end", "before the start", "empty"],
)
async def test_replace_list_item_out_of_range_yields_an_error(items: list[int], index: int) -> None:
    given = {"list": items, "index": index, "value": "new"}
    assert await outputs_of(ReplaceListItemBlock(), given) == [("error", "Index out of range")]


async def test_replace_list_item_with_a_falsy_value() -> None:
    given = {"list": [1, 2], "index": 0, "value": 0}
    assert await outputs_of(ReplaceListItemBlock(), given) == [("updated_list", [0, 2]), ("old_item", 1)]


async def test_replace_list_item_requires_a_value() -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(ReplaceListItemBlock(), {"list": [1], "index": 0, "value": None})


async def test_replace_list_item_does_not_change_its_input() -> None:
    original = ["a", "b"]
    await outputs_of(ReplaceListItemBlock(), {"list": original, "index": 0, "value": "z"})
    assert original == ["a", "b"]


# --- ListIsEmptyBlock ----------------------------------------------------------------


@pytest.mark.parametrize(("items", "expected"), [([], True), ([1], False)], ids=["empty", "one item"])
async def test_list_is_empty_autogpt_vectors(items: list[int], expected: bool) -> None:
    assert await outputs_of(ListIsEmptyBlock(), {"list": items}) == [("is_empty", expected)]


async def test_a_list_of_falsy_items_is_not_empty() -> None:
    assert await outputs_of(ListIsEmptyBlock(), {"list": [None]}) == [("is_empty", False)]


@pytest.mark.parametrize("given", [{}, {"list": None}, {"list": "abc"}], ids=["missing", "None", "not a list"])
async def test_list_is_empty_requires_a_list(given: dict[str, Any]) -> None:
    with pytest.raises(BlockInputError):
        await outputs_of(ListIsEmptyBlock(), given)


# --- size caps ---------------------------------------------------------------------


async def test_create_list_of_a_million_values_is_refused_with_a_clear_error() -> None:
    with pytest.raises(BlockExecutionError) as failed:
        [pair async for pair in CreateListBlock().execute({"values": [0] * 1_000_000})]
    assert str(failed.value) == "The list would have 1,000,000 items; the limit is 100,000"


async def test_add_to_list_past_the_cap_is_refused_with_a_clear_error() -> None:
    given = {"list": [0] * 100_000, "entries": [1, 2]}
    with pytest.raises(BlockExecutionError) as failed:
        [pair async for pair in AddToListBlock().execute(given)]
    assert str(failed.value) == "The updated list would have 100,002 items; the limit is 100,000"
