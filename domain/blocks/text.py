"""Text blocks: regex matching and extraction, templates, joining, splitting.

Behaviour follows AutoGPT's ``blocks/text.py`` (ids, pins, defaults and the
odd corners, which are reproduced on purpose and marked where they occur).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import regex

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)
from domain.blocks.sizes import check_text_size
from domain.blocks.templating import render_template

# Limits of ExtractTextInformationBlock, as AutoGPT sets them against abuse.
MAX_TEXT_LENGTH = 1_000_000
MAX_MATCHES = 1000
MAX_MATCH_LENGTH = 10_000
REGEX_TIMEOUT_SECONDS = 5.0


def _regex_flags(case_sensitive: bool, dot_all: bool) -> int:
    flags = 0
    if not case_sensitive:
        flags |= regex.IGNORECASE
    if dot_all:
        flags |= regex.DOTALL
    return flags


def _as_text(value: Any) -> str:
    """Strings as they are; anything else as its JSON text, as AutoGPT does."""
    return value if isinstance(value, str) else json.dumps(value)


class MatchTextPatternBlock(Block):
    """Routes ``data`` to ``positive`` or ``negative`` depending on a regex search.

    A search past ``REGEX_TIMEOUT_SECONDS`` fails the node (not "negative": a
    router must not pick a branch for a search that never finished).
    """

    id = "3060088f-6ed9-4928-9ba7-9c92823a7ccd"
    pure = True
    description = (
        "Matches text against a regex pattern and forwards data to positive or negative output based on the match."
    )
    categories = frozenset({BlockCategory.TEXT})
    cpu_bound = True  # runs an author-written regex or template: in a worker process (Block.cpu_bound)

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="Text to match")
        match: str = SchemaField(description="Pattern (Regex) to match")
        data: Any = SchemaField(description="Data to be forwarded to output")
        case_sensitive: bool = SchemaField(True, description="Case sensitive match")
        dot_all: bool = SchemaField(True, description="Dot matches all")

    class Output(BlockSchemaOutput):
        positive: Any = SchemaField(description="Output data if match is found")
        negative: Any = SchemaField(description="Output data if match is not found")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # AutoGPT forwards `data or text`: a falsy data ("", 0, [], False)
        # is replaced by the text itself. Reproduced on purpose.
        forwarded = input_data.data or input_data.text
        flags = _regex_flags(input_data.case_sensitive, input_data.dot_all)
        # An invalid pattern raises regex.error here, which fails the node.
        try:
            found = await asyncio.to_thread(
                regex.search,
                input_data.match,
                _as_text(input_data.text),
                flags=flags,
                timeout=REGEX_TIMEOUT_SECONDS,
                concurrent=True,
            )
        except TimeoutError:
            # A router must not guess: "negative" would send the data down the wrong branch
            # whenever the pattern merely ran long. (AutoGPT has no timeout here at all.)
            raise TimeoutError(
                f"Regex search timed out after {REGEX_TIMEOUT_SECONDS:g} seconds: "
                "the pattern backtracks too much on this text; simplify it"
            ) from None
        if found:
            yield "positive", forwarded
        else:
            yield "negative", forwarded


def _collect_matches(pattern: str, flags: int, text: str, group: int, find_all: bool) -> list[str]:
    """The text of ``group`` in each match, with AutoGPT's limits applied.

    A match with fewer groups than ``group`` is skipped (not an error), as is
    one whose group took no part in the match. Only the first kept match
    counts unless ``find_all``. The whole search is bounded by
    ``REGEX_TIMEOUT_SECONDS`` (the ``regex`` module can interrupt a
    backtracking pattern, ``re`` cannot); a timeout gives no matches, as
    AutoGPT's guarded run does.
    """
    kept: list[str] = []
    try:
        for match in regex.finditer(pattern, text, flags, timeout=REGEX_TIMEOUT_SECONDS, concurrent=True):
            if len(kept) >= MAX_MATCHES:
                break
            if group > len(match.groups()):
                continue
            found = match.group(group)
            if found is None:
                continue
            kept.append(found[:MAX_MATCH_LENGTH])
            if not find_all:
                break
    except TimeoutError:
        return []
    return kept


class ExtractTextInformationBlock(Block):
    """Extracts regex matches (or one group of them) from a text."""

    id = "3146e4fe-2cdd-4f29-bd12-0c9d5bb4deb0"
    pure = True
    description = "This block extracts the text from the given text using the pattern (regex)."
    categories = frozenset({BlockCategory.TEXT})
    cpu_bound = True  # runs an author-written regex or template: in a worker process (Block.cpu_bound)

    class Input(BlockSchemaInput):
        text: Any = SchemaField(description="Text to parse")
        pattern: str = SchemaField(description="Pattern (Regex) to parse")
        group: int = SchemaField(0, description="Group number to extract")
        case_sensitive: bool = SchemaField(True, description="Case sensitive match")
        dot_all: bool = SchemaField(True, description="Dot matches all")
        find_all: bool = SchemaField(False, description="Find all matches")

    class Output(BlockSchemaOutput):
        positive: str = SchemaField(description="Extracted text")
        negative: str = SchemaField(description="Original text")
        matched_results: list[str] = SchemaField(description="List of matched results")
        matched_count: int = SchemaField(description="Number of matched results")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        flags = _regex_flags(input_data.case_sensitive, input_data.dot_all)
        text = _as_text(input_data.text)[:MAX_TEXT_LENGTH]
        try:
            # in a thread: a slow pattern must not stall other nodes on the event loop
            results = await asyncio.to_thread(
                _collect_matches, input_data.pattern, flags, text, input_data.group, input_data.find_all
            )
        except regex.error:
            results = []  # an invalid pattern is "no match" here, as in AutoGPT
        for result in results:
            yield "positive", result
        if not results:
            # The original input, not its JSON text, as AutoGPT yields it.
            yield "negative", input_data.text
        yield "matched_results", results
        yield "matched_count", len(results)


class FillTextTemplateBlock(Block):
    """Renders a sandboxed Jinja2 template with the given values."""

    id = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
    pure = True
    description = "This block formats the given texts using the format template."
    categories = frozenset({BlockCategory.TEXT})
    cpu_bound = True  # runs an author-written regex or template: in a worker process (Block.cpu_bound)

    class Input(BlockSchemaInput):
        values: dict[str, Any] = SchemaField(
            description=(
                "Values (dict) to be used in format. These values can be used by putting them "
                "in double curly braces in the format template. e.g. {{value_name}}."
            )
        )
        format: str = SchemaField(description="Template to format the text using `values`. Use Jinja2 syntax.")
        escape_html: bool = SchemaField(
            False,
            description=(
                "Whether to escape special characters in the inserted values to be HTML-safe. "
                "Enable for HTML output, disable for plain text."
            ),
            advanced=True,
        )

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="Formatted text")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        # Template syntax errors and sandbox violations raise: the node fails.
        yield (
            "output",
            render_template(input_data.format, input_data.values, escape_html=input_data.escape_html),
        )


class CombineTextsBlock(Block):
    """Joins a list of texts with a delimiter."""

    id = "e30a4d42-7b7d-4e6a-b36e-1f9b8e3b7d85"
    pure = True
    description = "This block combines multiple input texts into a single output text."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        input: list[str] = SchemaField(description="text input to combine")
        delimiter: str = SchemaField("", description="Delimiter to combine texts")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="Combined text")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        texts, delimiter = input_data.input, input_data.delimiter
        check_text_size(sum(map(len, texts)) + len(delimiter) * max(len(texts) - 1, 0), "The combined text")
        yield "output", delimiter.join(texts)


class TextSplitBlock(Block):
    """Splits a text on a delimiter, optionally stripping each piece."""

    id = "d5ea33c8-a575-477a-b42f-2fe3be5055ec"
    pure = True
    description = "This block is used to split a text into a list of strings."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to split.")
        delimiter: str = SchemaField(description="The delimiter to split the text by.")
        strip: bool = SchemaField(True, description="Whether to strip the text.")

    class Output(BlockSchemaOutput):
        texts: list[str] = SchemaField(description="The text split into a list of strings.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        if not input_data.text:
            yield "texts", []
            return
        # An empty delimiter raises ValueError (str.split), failing the node as in AutoGPT.
        texts = input_data.text.split(input_data.delimiter)
        if input_data.strip:
            texts = [piece.strip() for piece in texts]
        yield "texts", texts


class TextReplaceBlock(Block):
    """Replaces every literal occurrence of one text with another."""

    id = "7e7c87ab-3469-4bcc-9abe-67705091b713"
    pure = True
    description = "This block is used to replace a text with a new text."
    categories = frozenset({BlockCategory.TEXT})

    class Input(BlockSchemaInput):
        text: str = SchemaField(description="The text to replace.")
        old: str = SchemaField(description="The old text to replace.")
        new: str = SchemaField(description="The new text to replace with.")

    class Output(BlockSchemaOutput):
        output: str = SchemaField(description="The text with the replaced text.")

    async def run(self, input_data: Input, context: RunContext) -> BlockOutput:
        text, old, new = input_data.text, input_data.old, input_data.new
        if len(new) > len(old):  # a replace that grows the text: its size is known before it is built
            check_text_size(len(text) + text.count(old) * (len(new) - len(old)), "The replaced text")
        yield "output", text.replace(old, new)
