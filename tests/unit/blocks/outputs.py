"""Run a block to the end in a test and see every output it gave, ``error`` included."""

from __future__ import annotations

from typing import Any

from domain.blocks.base import Block, RunContext


async def collect_outputs(
    block: Block, data: dict[str, Any], context: RunContext | None = None
) -> list[tuple[str, Any]]:
    """Every ``(pin, value)`` in order; unlike ``Block.execute`` a yielded ``error`` is kept, not raised."""
    validated = block.validate_input(data)
    out: list[tuple[str, Any]] = []
    async for pin, value in block.run(validated, context or RunContext()):
        out.append((pin, value))
    return out
