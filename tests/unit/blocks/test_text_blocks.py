"""Text blocks: AutoGPT's test vectors plus the edge cases its catalogue names."""

from __future__ import annotations

import time
from typing import Any

import pytest

from domain.blocks import text as text_module
from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockExecutionError,
    BlockInputError,
    BlockType,
)
from domain.blocks.text import (
    CombineTextsBlock,
    ExtractTextInformationBlock,
    FillTextTemplateBlock,
    MatchTextPatternBlock,
    TextReplaceBlock,
    TextSplitBlock,
)
from tests.unit.blocks.outputs import collect_outputs

Outputs = list[tuple[str, Any]]


async def run_block(block: Block, data: dict[str, Any]) -> Outputs:
    return await collect_outputs(block, data)


async def run_strict(block: Block, data: dict[str, Any]) -> Outputs:
    """The executor's path: an error yield or exception raises."""
    return [pair async for pair in block.execute(data)]


# ---------------------------------------------------------------- identity


@pytest.mark.parametrize(
    ("block_cls", "block_id", "inputs", "required", "outputs"),
    [
        (
            MatchTextPatternBlock,
            "3060088f-6ed9-4928-9ba7-9c92823a7ccd",
            {"text", "match", "data", "case_sensitive", "dot_all"},
            {"text", "match", "data"},
            {"positive", "negative", "error"},
        ),
        (
            ExtractTextInformationBlock,
            "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0",
            {"text", "pattern", "group", "case_sensitive", "dot_all", "find_all"},
            {"text", "pattern"},
            {"positive", "negative", "matched_results", "matched_count", "error"},
        ),
        (
            FillTextTemplateBlock,
            "db7d8f02-2f44-4c55-ab7a-eae0941f0c30",
            {"values", "format", "escape_html"},
            {"values", "format"},
            {"output", "error"},
        ),
        (
            CombineTextsBlock,
            "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85",
            {"input", "delimiter"},
            {"input"},
            {"output", "error"},
        ),
        (
            TextSplitBlock,
            "d5ea33c8-a575-477a-b42f-2fe3be5055ec",
            {"text", "delimiter", "strip"},
            {"text", "delimiter"},
            {"texts", "error"},
        ),
        (
            TextReplaceBlock,
            "7e7c87ab-3469-4bcc-9abe-67705091b713",
            {"text", "old", "new"},
            {"text", "old", "new"},
            {"output", "error"},
        ),
    ],
)
def test_block_identity_and_pins(
    block_cls: type[Block], block_id: str, inputs: set[str], required: set[str], outputs: set[str]
) -> None:
    assert block_cls.id == block_id
    assert block_cls.block_type is BlockType.STANDARD
    assert block_cls.static_output is False
    assert block_cls.categories == frozenset({BlockCategory.TEXT})
    assert block_cls.input_pins() == inputs
    assert block_cls.Input.required_fields() == required
    assert block_cls.output_pins() == outputs


def test_defaults_and_advanced_flags_match_the_catalogue() -> None:
    match_props = MatchTextPatternBlock.Input.jsonschema()["properties"]
    assert match_props["case_sensitive"]["default"] is True
    assert match_props["dot_all"]["default"] is True

    extract_props = ExtractTextInformationBlock.Input.jsonschema()["properties"]
    assert extract_props["group"]["default"] == 0
    assert extract_props["find_all"]["default"] is False

    fill_props = FillTextTemplateBlock.Input.jsonschema()["properties"]
    assert fill_props["escape_html"]["default"] is False
    assert fill_props["escape_html"]["advanced"] is True

    assert CombineTextsBlock.Input.jsonschema()["properties"]["delimiter"]["default"] == ""
    assert TextSplitBlock.Input.jsonschema()["properties"]["strip"]["default"] is True


# ---------------------------------------------------------------- MatchTextPatternBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"text": "ABC", "match": "ab", "data": "X", "case_sensitive": False}, [("positive", "X")]),
        ({"text": "ABC", "match": "ab", "data": "Y", "case_sensitive": True}, [("negative", "Y")]),
        ({"text": "Hello World!", "match": ".orld.+", "data": "Z"}, [("positive", "Z")]),
        ({"text": "Hello World!", "match": "World![a-z]+", "data": "Z"}, [("negative", "Z")]),
    ],
)
async def test_match_text_pattern_autogpt_vectors(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(MatchTextPatternBlock(), given) == expected


@pytest.mark.parametrize("falsy", ["", 0, [], {}, False])
async def test_match_text_pattern_forwards_the_text_when_data_is_falsy(falsy: Any) -> None:
    # AutoGPT forwards `data or text`.
    given = {"text": "ABC", "match": "B", "data": falsy}
    assert await run_block(MatchTextPatternBlock(), given) == [("positive", "ABC")]


async def test_match_text_pattern_serialises_non_string_text_as_json() -> None:
    given = {"text": {"key": "value"}, "match": '"key": "value"', "data": "hit"}
    assert await run_block(MatchTextPatternBlock(), given) == [("positive", "hit")]


async def test_match_text_pattern_dot_all_controls_newlines() -> None:
    base = {"text": "a\nb", "match": "a.b", "data": "D"}
    assert await run_block(MatchTextPatternBlock(), base) == [("positive", "D")]
    assert await run_block(MatchTextPatternBlock(), {**base, "dot_all": False}) == [("negative", "D")]


async def test_match_text_pattern_invalid_regex_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError):
        await run_strict(MatchTextPatternBlock(), {"text": "abc", "match": "(", "data": "D"})


async def test_match_text_pattern_fails_the_node_when_the_regex_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # A router must not guess "negative" for a search that never finished (see the README).
    monkeypatch.setattr(text_module, "REGEX_TIMEOUT_SECONDS", 0.5)
    given = {"text": "a" * 60 + "!", "match": "(a|aa)+$", "data": "D"}
    with pytest.raises(BlockExecutionError) as failed:
        await run_strict(MatchTextPatternBlock(), given)
    assert str(failed.value) == (
        "Regex search timed out after 0.5 seconds: the pattern backtracks too much on this text; simplify it"
    )


async def test_match_text_pattern_requires_data() -> None:
    with pytest.raises(BlockInputError):
        await run_block(MatchTextPatternBlock(), {"text": "abc", "match": "a"})


# ---------------------------------------------------------------- ExtractTextInformationBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 1},
            [("positive", "World!"), ("matched_results", ["World!"]), ("matched_count", 1)],
        ),
        (
            {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 0},
            [
                ("positive", "Hello, World!"),
                ("matched_results", ["Hello, World!"]),
                ("matched_count", 1),
            ],
        ),
        (
            {"text": "Hello, World!", "pattern": "Hello, (.+)", "group": 2},
            [("negative", "Hello, World!"), ("matched_results", []), ("matched_count", 0)],
        ),
        (
            {"text": "Hello, World!", "pattern": "hello,", "case_sensitive": False},
            [("positive", "Hello,"), ("matched_results", ["Hello,"]), ("matched_count", 1)],
        ),
        (
            {
                "text": "Hello, World!! Hello, Earth!!",
                "pattern": "Hello, (\\S+)",
                "group": 1,
                "find_all": False,
            },
            [("positive", "World!!"), ("matched_results", ["World!!"]), ("matched_count", 1)],
        ),
        (
            {
                "text": "Hello, World!! Hello, Earth!!",
                "pattern": "Hello, (\\S+)",
                "group": 1,
                "find_all": True,
            },
            [
                ("positive", "World!!"),
                ("positive", "Earth!!"),
                ("matched_results", ["World!!", "Earth!!"]),
                ("matched_count", 2),
            ],
        ),
    ],
)
async def test_extract_text_information_autogpt_vectors(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(ExtractTextInformationBlock(), given) == expected


async def test_extract_invalid_regex_gives_no_match_instead_of_failing() -> None:
    given = {"text": "abc", "pattern": "(unclosed"}
    expected = [("negative", "abc"), ("matched_results", []), ("matched_count", 0)]
    assert await run_strict(ExtractTextInformationBlock(), given) == expected


async def test_extract_negative_carries_the_original_non_string_text() -> None:
    given = {"text": {"a": 1}, "pattern": "zzz"}
    expected = [("negative", {"a": 1}), ("matched_results", []), ("matched_count", 0)]
    assert await run_block(ExtractTextInformationBlock(), given) == expected


async def test_extract_searches_the_json_text_of_non_string_input() -> None:
    given = {"text": {"name": "Ada"}, "pattern": '"name": "(\\w+)"', "group": 1}
    expected = [("positive", "Ada"), ("matched_results", ["Ada"]), ("matched_count", 1)]
    assert await run_block(ExtractTextInformationBlock(), given) == expected


async def test_extract_dot_all_off_stops_at_newlines() -> None:
    given = {"text": "<t>a\nb</t>", "pattern": "<t>(.*?)</t>", "group": 1}
    assert (await run_block(ExtractTextInformationBlock(), given))[0] == ("positive", "a\nb")
    no_dot_all = await run_block(ExtractTextInformationBlock(), {**given, "dot_all": False})
    assert no_dot_all[0] == ("negative", "<t>a\nb</t>")


async def test_extract_keeps_at_most_1000_matches() -> None:
    given = {"text": "x" * 1500, "pattern": "x", "find_all": True}
    outputs = await run_block(ExtractTextInformationBlock(), given)
    assert outputs[-1] == ("matched_count", 1000)
    assert sum(1 for pin, _ in outputs if pin == "positive") == 1000


async def test_extract_cuts_each_match_to_10000_characters() -> None:
    given = {"text": "y" * 12_000, "pattern": "y+"}
    outputs = await run_block(ExtractTextInformationBlock(), given)
    assert outputs[0] == ("positive", "y" * 10_000)


async def test_extract_only_reads_the_first_million_characters() -> None:
    given = {"text": "a" * 1_000_000 + "NEEDLE", "pattern": "NEEDLE"}
    outputs = await run_block(ExtractTextInformationBlock(), given)
    assert outputs[-1] == ("matched_count", 0)


async def test_extract_skips_a_group_that_took_no_part_in_the_match() -> None:
    given = {"text": "a b", "pattern": "(x)?(\\w)", "group": 1, "find_all": True}
    expected = [("negative", "a b"), ("matched_results", []), ("matched_count", 0)]
    assert await run_block(ExtractTextInformationBlock(), given) == expected


async def test_extract_risky_pattern_still_matches_normally() -> None:
    given = {"text": "aaab aab", "pattern": "(a+)+b", "find_all": True}
    expected = [
        ("positive", "aaab"),
        ("positive", "aab"),
        ("matched_results", ["aaab", "aab"]),
        ("matched_count", 2),
    ]
    assert await run_block(ExtractTextInformationBlock(), given) == expected


async def test_extract_catastrophic_pattern_times_out_as_no_match(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit is 5 s; a shorter one keeps the test quick.
    monkeypatch.setattr(text_module, "REGEX_TIMEOUT_SECONDS", 0.5)
    text = "a" * 60 + "b"
    started = time.monotonic()
    outputs = await run_block(ExtractTextInformationBlock(), {"text": text, "pattern": "(a+)+$"})
    assert time.monotonic() - started < 5
    assert outputs == [("negative", text), ("matched_results", []), ("matched_count", 0)]


# ---------------------------------------------------------------- FillTextTemplateBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {
                "values": {"name": "Alice", "hello": "Hello", "world": "World!"},
                "format": "{{hello}}, {{ world }} {{name}}",
            },
            [("output", "Hello, World! Alice")],
        ),
        (
            {
                "values": {"list": ["Hello", " World!"]},
                "format": "{% for item in list %}{{ item }}{% endfor %}",
            },
            [("output", "Hello World!")],
        ),
        (
            {"values": {}, "format": "{% set name = 'Alice' %}Hello, World! {{ name }}"},
            [("output", "Hello, World! Alice")],
        ),
    ],
)
async def test_fill_text_template_autogpt_vectors(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(FillTextTemplateBlock(), given) == expected


async def test_fill_text_template_escapes_html_only_when_asked() -> None:
    given = {"values": {"v": "<b>&</b>"}, "format": "{{ v }}"}
    assert await run_block(FillTextTemplateBlock(), given) == [("output", "<b>&</b>")]
    escaped = await run_block(FillTextTemplateBlock(), {**given, "escape_html": True})
    assert escaped == [("output", "&lt;b&gt;&amp;&lt;/b&gt;")]


async def test_fill_text_template_syntax_error_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError):
        await run_strict(FillTextTemplateBlock(), {"values": {}, "format": "{% for %}"})


async def test_fill_text_template_is_sandboxed() -> None:
    template = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(BlockExecutionError):
        await run_strict(FillTextTemplateBlock(), {"values": {}, "format": template})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            "Template exceeded its budget of 100,000 loop iterations and calls",
        ),
        ("{{ 'a' * 1000000000 }}", "Template built a value longer than 1,000,000 characters or items"),
        ("{{ ([0] * 10000000) | length }}", "Template built a value longer than 1,000,000 characters or items"),
        (
            "{% set ns = namespace(x='ab') %}{% for i in range(25) %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
            "Template built a value longer than 1,000,000 characters or items",
        ),
        (
            "{% set ns = namespace(x='ab') %}{% for i in range(25) %}{% set ns.x = ns.x + ns.x %}{% endfor %}",
            "Template built a value longer than 1,000,000 characters or items",
        ),
        ("{{ 10 ** 100000 }}", "Template built a number larger than 4,096 bits"),
        ("{% for i in range(99999) %}{{ 'x' * 20 }}{% endfor %}", "Template output is longer"),
    ],
    ids=["nested-loops", "repeated-string", "repeated-list", "doubling-concat", "doubling-plus", "power", "output"],
)
async def test_fill_text_template_over_its_budget_fails_with_a_clear_error(template: str, message: str) -> None:
    with pytest.raises(BlockExecutionError) as failed:
        await run_strict(FillTextTemplateBlock(), {"values": {}, "format": template})
    assert str(failed.value).startswith(message)


async def test_fill_text_template_within_its_budget_renders_loops_and_operators() -> None:
    template = "{% for i in items %}{{ i * 2 }}{{ '-' ~ name }}{% endfor %} {{ 'ab' * 3 }} {{ 2**10 }} {{ [1] + [2] }}"
    given = {"values": {"items": list(range(3)), "name": "x"}, "format": template}
    assert await run_strict(FillTextTemplateBlock(), given) == [("output", "0-x2-x4-x ababab 1024 [1, 2]")]


# ---------------------------------------------------------------- CombineTextsBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"input": ["Hello world I like ", "cake and to go for walks"]},
            [("output", "Hello world I like cake and to go for walks")],
        ),
        (
            {"input": ["This is a test", "Hi!"], "delimiter": "! "},
            [("output", "This is a test! Hi!")],
        ),
        ({"input": []}, [("output", "")]),
    ],
)
async def test_combine_texts(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(CombineTextsBlock(), given) == expected


# ---------------------------------------------------------------- TextSplitBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"text": "Hello, World!", "delimiter": ","}, [("texts", ["Hello", "World!"])]),
        ({"text": "Hello, World!", "delimiter": ",", "strip": False}, [("texts", ["Hello", " World!"])]),
        ({"text": "", "delimiter": ","}, [("texts", [])]),
        ({"text": "no delimiter here", "delimiter": ";"}, [("texts", ["no delimiter here"])]),
        ({"text": "a,,b,", "delimiter": ","}, [("texts", ["a", "", "b", ""])]),
    ],
)
async def test_text_split(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(TextSplitBlock(), given) == expected


async def test_text_split_empty_delimiter_fails_the_node() -> None:
    with pytest.raises(BlockExecutionError):
        await run_strict(TextSplitBlock(), {"text": "abc", "delimiter": ""})


# ---------------------------------------------------------------- TextReplaceBlock


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"text": "Hello, World!", "old": "Hello", "new": "Hi"}, [("output", "Hi, World!")]),
        ({"text": "a.b.c", "old": ".", "new": "-"}, [("output", "a-b-c")]),
        ({"text": "abc", "old": "x", "new": "y"}, [("output", "abc")]),
    ],
)
async def test_text_replace_replaces_every_literal_occurrence(given: dict[str, Any], expected: Outputs) -> None:
    assert await run_block(TextReplaceBlock(), given) == expected


# ---------------------------------------------------------------- size caps


async def test_text_replace_that_would_grow_past_the_cap_is_refused_before_building() -> None:
    given = {"text": "a" * 1000, "old": "a", "new": "b" * 10_000}
    with pytest.raises(BlockExecutionError) as failed:
        await run_strict(TextReplaceBlock(), given)
    assert str(failed.value) == "The replaced text would have 10,000,000 characters; the limit is 1,000,000"


async def test_combine_texts_past_the_cap_is_refused() -> None:
    given = {"input": ["x" * 1000] * 1000, "delimiter": ","}
    with pytest.raises(BlockExecutionError) as failed:
        await run_strict(CombineTextsBlock(), given)
    assert str(failed.value) == "The combined text would have 1,000,999 characters; the limit is 1,000,000"
