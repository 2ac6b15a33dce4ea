"""The executor's process keeps its start-up objects out of the garbage collector's full collections."""

from __future__ import annotations

import gc

from tests.unit.engine.harness import Platform


async def test_a_started_executor_leaves_the_start_up_heap_out_of_full_collections(platform: Platform) -> None:
    # a full collection walked every module, block schema and pool of the process: 120-160 ms,
    # a third of a 1,000-step run (tests/benchmarks/test_executor_vs_peers.py)
    assert gc.get_freeze_count() > 0, "the objects the process started with are still scanned by every collection"
