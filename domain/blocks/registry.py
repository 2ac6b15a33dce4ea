"""The block registry: every block the platform knows, looked up by id.

The pure library modules are imported here explicitly (no plugin
discovery), so the pure library is exactly what this file names. Blocks that
do I/O (LLM, HTTP, sub-agents) live outside the domain and are added by the
composition root into a ``BlockRegistry`` together with the pure ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from domain.blocks import (  # noqa: F401 - imported for their block classes
    basic,
    branching,
    dictionary,
    io,
    iteration,
    lists,
    maths,
    text,
    time,
)
from domain.blocks.base import Block, iter_subclasses


@cache
def _blocks() -> dict[str, Block]:
    found: dict[str, Block] = {}
    for cls in iter_subclasses(Block):  # type: ignore[type-abstract]  # walks the concrete subclasses
        if not cls.__module__.startswith("domain.blocks."):
            continue  # only the library's own blocks (not test doubles) are registered
        if cls.id in found:
            raise RuntimeError(f"two blocks share the id {cls.id}: {found[cls.id].name()} and {cls.name()}")
        found[cls.id] = cls()
    return found


def all_blocks() -> list[Block]:
    """Every block, sorted by name."""
    return sorted(_blocks().values(), key=lambda b: b.name())


class BlockRegistry:
    """A set of blocks by id: the library one running platform offers."""

    def __init__(self, blocks: Iterable[Block]) -> None:
        self._blocks: dict[str, Block] = {}
        for block in blocks:
            if block.id in self._blocks:
                raise ValueError(
                    f"two blocks share the id {block.id}: {self._blocks[block.id].name()} and {block.name()}"
                )
            self._blocks[block.id] = block

    def get(self, block_id: str) -> Block | None:
        """The block with this id, or None (usable as a ``BlockLookup``)."""
        return self._blocks.get(block_id)

    def all(self) -> list[Block]:
        """Every block, sorted by name."""
        return sorted(self._blocks.values(), key=lambda b: b.name())

    def __len__(self) -> int:
        return len(self._blocks)
