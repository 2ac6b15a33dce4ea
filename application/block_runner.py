"""Where blocks run: the port the executor and the block-execute endpoint call.

``block.execute`` runs a block in the caller's event loop, where nothing can
interrupt synchronous work: a timeout around it waits for the block to give
the loop back. A ``BlockRunner`` runs it where a timeout can really stop it.
The adapter (``adapters.block_workers``) sends CPU-bound blocks
(``Block.cpu_bound``: templates, regexes) to worker processes that are killed
on timeout, and runs every other block in the loop as before.

Callers enforce time limits by cancelling (``asyncio.timeout`` around the
iteration): a runner must stop the block's work when its iteration is
cancelled, not merely stop waiting for it.
"""

from __future__ import annotations

from typing import Any, Protocol

from domain.blocks.base import Block, BlockOutput, RunContext


class BlockRunner(Protocol):
    """Runs one block on raw input data and yields its ``(pin, value)`` outputs."""

    def execute(self, block: Block, data: dict[str, Any], context: RunContext) -> BlockOutput:
        """``block.execute(data, context)``, wherever this runner runs it; raises ``BlockError`` as it does."""
        ...


class InlineBlockRunner:
    """Runs every block in the caller's event loop: for tests and tools that run only trusted, cheap blocks."""

    def execute(self, block: Block, data: dict[str, Any], context: RunContext) -> BlockOutput:
        """``block.execute`` as it is."""
        return block.execute(data, context)
