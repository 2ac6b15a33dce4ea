"""Rebuilding a projection: replay the event store into shadow tables, then swap them in.

The live projector keeps applying batches while a rebuild runs. At the end,
under the projection's lock, the shadow tables catch up with the live
positions and replace the live tables in one transaction, so readers never
see a half-built table and the live projector carries on from its positions.

When the live projector consumes a partitioned transport (Kafka), it keeps a
position per partition; the caller says how events are partitioned
(``Partitioning``), so this module knows no transport.

Events the projection parked (``read.dead_letters``) are left out of the
rebuilt tables as they are out of the live ones: they stay parked, and
``agentgraph projections retry`` applies them once, rebuilt or not.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import adapters.read_store.dead_letters as dead_letters
import adapters.read_store.positions as positions
from adapters.read_store.positions import LIVE_PARTITION
from adapters.read_store.store import ReadStore
from projections.base import Projection
from projections.envelope import EventEnvelope

Read = Callable[[str, int, int], list[EventEnvelope]]
"""``read(context, after_position, limit)``: stored events in log order."""


@dataclass(frozen=True)
class Partitioning:
    """How the live projector's transport splits each context's events."""

    count: int
    """How many partitions there are (numbered from 0)."""
    partition_of: Callable[[str], int]
    """The partition of an event's routing key (``EventEnvelope.routing_key``)."""


def rebuild_projection(
    store: ReadStore,
    projection: Projection,
    read: Read,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 2000,
    partitions: Partitioning | None = None,
) -> dict[str, int]:
    """Replay the event store into shadow tables of ``store``, then swap them in atomically.

    With ``partitions`` (a live projector consuming a partitioned transport)
    the swap honours the live position of each partition, and every partition
    gets a position, also those no live projector has consumed yet, so a
    projector starting on them later skips what the rebuild already holds.
    Returns the positions the rebuilt tables reached.
    """
    advance = progress or (lambda _: None)
    with store.transaction() as tx:
        parked = dead_letters.parked_positions(tx, projection.name)
    store.start_rebuild(projection)
    reached = dict.fromkeys(projection.contexts, 0)
    # the next batch is read while the current one is written: the event store and the
    # read-model database work at the same time (both release the GIL while they wait)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-read") as reader:
        for context in sorted(projection.contexts):
            upcoming = reader.submit(read, context, 0, batch_size)
            while batch := upcoming.result():
                upcoming = reader.submit(read, context, batch[-1].position, batch_size)
                store.apply_rebuild(projection, context, [e for e in batch if (context, e.position) not in parked])
                reached[context] = batch[-1].position
                advance(len(batch))
    with store.transaction(rebuild=True) as tx:
        store.lock_projection(tx, projection.name)
        live = positions.by_partition(tx, projection.name)
        parked = dead_letters.parked_positions(tx, projection.name)
        for context in sorted(projection.contexts):
            ours = {k: v for k, v in live.items() if k[0] == context}
            target = max(ours.values(), default=0)
            cursor = reached[context]
            while cursor < target:
                batch = read(context, cursor, batch_size)
                if not batch:
                    break
                cursor = batch[-1].position
                wanted = [
                    e
                    for e in batch
                    if e.position <= _live_limit(ours, context, e, partitions) and (context, e.position) not in parked
                ]
                if wanted:
                    projection.apply(wanted, tx)
                    advance(len(wanted))
            # every event up to reached[context] is in the shadow tables, and the live ones past it too
            keys = set(ours)
            if partitions:
                keys |= {(context, partition) for partition in range(partitions.count)}
            for ctx, partition in sorted(keys) or [(context, LIVE_PARTITION)]:
                position = max(ours.get((ctx, partition), 0), reached[context])
                positions.save(tx, projection.name, ctx, position, partition)
            reached[context] = max(reached[context], target)
        store.swap_in(tx, projection)
    return reached


def _live_limit(
    ours: dict[tuple[str, int], int],
    context: str,
    event: EventEnvelope,
    partitions: Partitioning | None,
) -> int:
    """Up to which position the live tables hold events of ``event``'s partition."""
    if (context, LIVE_PARTITION) in ours:
        return ours[(context, LIVE_PARTITION)]
    partition = partitions.partition_of(event.routing_key) if partitions else LIVE_PARTITION
    return ours.get((context, partition), 0)
