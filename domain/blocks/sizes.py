"""Size caps of the blocks that build lists and texts.

A builder's work and its output grow with what it is given (and, for a
replace, with what it is asked to make), so each checks the size it is
about to build against these caps *before* building it, and fails the node
with a message naming the cap. The caps sit far above any real agent's
needs (AutoGPT's own StepThroughItemsBlock stops at 10,000 items) and far
below what would freeze a process or fill its memory.
"""

from __future__ import annotations

MAX_LIST_ITEMS = 100_000
"""Items a list-building block may produce in one list."""

MAX_TEXT_CHARS = 1_000_000
"""Characters a text-building block (or a template) may produce in one text."""


class BlockSizeError(ValueError):
    """A block was about to build a list or text over its cap."""


def check_list_size(items: int, what: str) -> None:
    """Refuse a list of ``items`` items (``what`` names it in the message)."""
    if items > MAX_LIST_ITEMS:
        raise BlockSizeError(f"{what} would have {items:,} items; the limit is {MAX_LIST_ITEMS:,}")


def check_text_size(chars: int, what: str) -> None:
    """Refuse a text of ``chars`` characters (``what`` names it in the message)."""
    if chars > MAX_TEXT_CHARS:
        raise BlockSizeError(f"{what} would have {chars:,} characters; the limit is {MAX_TEXT_CHARS:,}")
