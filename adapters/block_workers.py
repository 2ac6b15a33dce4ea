"""Worker processes for CPU-bound blocks (``Block.cpu_bound``), behind ``application.block_runner``.

A template or a regex is a program the graph author wrote; in the event loop
it would freeze the API, the executor and (embedded) the projector while it
runs, and no timeout could stop it. Here it runs in a pebble ``ProcessPool``:

- a caller's timeout cancels the iteration, which cancels the task, and
  pebble kills the worker running it and starts a fresh one;
- workers run at a lower priority (``nice``), so on a busy machine the
  API, the executor and the projector still get the CPU first;
- each worker's data segment is capped (``RLIMIT_DATA``): an allocation past
  the cap is a ``MemoryError`` in the worker, a failed node here, never a
  machine out of memory;
- workers come from a ``forkserver``: never forked from the serving process
  and its threads (database pools, Kafka clients, uvicorn), and a replacement
  starts in milliseconds, not the second a fresh interpreter takes.

Every other block runs in the caller's loop, as ``block.execute`` always did.
The pool starts with the first CPU-bound block, so a process that never runs
one starts no workers; ``close`` stops them (no orphans when the server stops).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import resource
import threading
from typing import Any

from pebble import ProcessExpired, ProcessPool

from domain.blocks.base import Block, BlockExecutionError, BlockOutput, RunContext

WORKER_MEMORY_BYTES = 1024**3
"""Data segment of one worker: what a template or regex may allocate, with the interpreter."""

WORKER_NICENESS = 10
"""Workers yield the CPU to the serving process: a busy template never slows the API's answers."""

_WORKER_LOOP: asyncio.AbstractEventLoop | None = None


def _start_worker(memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    os.nice(WORKER_NICENESS)


def _run_in_worker(block: Block, data: dict[str, Any], context: RunContext) -> tuple[list[tuple[str, Any]], dict]:
    """In the worker: run the block to its end, return its outputs and the stats it added."""
    global _WORKER_LOOP
    if _WORKER_LOOP is None:
        _WORKER_LOOP = asyncio.new_event_loop()  # one per worker, reused: a new loop per task costs a millisecond

    async def collect() -> list[tuple[str, Any]]:
        return [item async for item in block.execute(data, context)]

    try:
        outputs = _WORKER_LOOP.run_until_complete(collect())
    except BlockExecutionError as exc:
        if isinstance(exc.__cause__, MemoryError):
            raise BlockExecutionError(
                f"Block ran out of memory (a worker may use {WORKER_MEMORY_BYTES // 1024**2:,} MiB)"
            ) from None
        raise
    return outputs, context.stats


class BlockWorkerPool:
    """A ``BlockRunner``: CPU-bound blocks in killable worker processes, the rest in the caller's loop."""

    def __init__(self, workers: int = 2, memory_bytes: int = WORKER_MEMORY_BYTES) -> None:
        self._workers = workers
        self._memory_bytes = memory_bytes
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()  # the API (thread pool) and the executor may start it at once

    def _started(self) -> ProcessPool:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                # the worker's first task finds the blocks and their pydantic models imported already
                context.set_forkserver_preload(["domain.blocks.registry"])
                self._pool = ProcessPool(
                    max_workers=self._workers,
                    initializer=_start_worker,
                    initargs=(self._memory_bytes,),
                    context=context,
                )
            return self._pool

    def execute(self, block: Block, data: dict[str, Any], context: RunContext) -> BlockOutput:
        """Run ``block``: in a worker if it is CPU-bound (cancelling the iteration kills the worker), else here."""
        if block.cpu_bound:
            return self._in_worker(block, data, context)
        return block.execute(data, context)  # no wrapper: cheap blocks pay nothing for the pool

    async def _in_worker(self, block: Block, data: dict[str, Any], context: RunContext) -> BlockOutput:
        # extras are the executor's in-process helpers (sub-agents): a CPU-bound block has no use for them
        future = self._started().schedule(_run_in_worker, args=(block, data, dataclasses.replace(context, extra={})))
        try:
            outputs, stats = await asyncio.wrap_future(future)
        except ProcessExpired as exc:  # killed from outside (OOM killer, signal): the node fails, the pool goes on
            raise BlockExecutionError(f"Block worker process died ({exc})", block.name(), block.id) from None
        context.stats.update(stats)
        for item in outputs:
            yield item

    def close(self) -> None:
        """Stop the workers (a task still running is abandoned: its node re-runs on resume)."""
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join()
                self._pool = None
