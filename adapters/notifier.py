"""The notifier: follows the executions log and publishes AutoGPT's live updates.

A ``LogFollower`` (the one way to follow a log) reads the executions log
from its head at start, turns each event into its ``graph_execution_event``
/ ``node_execution_event`` payloads (``projections.executions.live``, the
read model's own mapping) and publishes them on the live bus. Runs it
meets mid-way (started before the notifier) are rebuilt from their stored
events first. It keeps no position: what it publishes is fire and forget,
and a client that missed something resumes from the event store by
position (``api.live_hub``). Two notifiers would publish every update
twice; the hub drops an update at or below a subscription's last position,
so that is harmless.
"""

from __future__ import annotations

import asyncio
import logging

from adapters.event_log import EventLog
from adapters.live_bus import LiveBus
from adapters.log_follower import LogFollower
from projections.envelope import EventEnvelope
from projections.executions.live import LiveRuns
from projections.executions.projection import RUN_EVENT_TYPES

log = logging.getLogger(__name__)


class Notifier:
    """Executions log -> live updates on ``bus``, from the log's head at start."""

    def __init__(self, event_log: EventLog, bus: LiveBus) -> None:
        self._bus = bus
        self._runs = LiveRuns(history=event_log.history)
        self.published = 0
        """Updates published so far (for metrics)."""
        self._follower = LogFollower(event_log, self._publish, start=event_log.head, name="notifier")

    async def start(self) -> None:
        """Follow the log in the follower's thread."""
        self._follower.start()

    async def stop(self) -> None:
        """Stop following."""
        await asyncio.to_thread(self._follower.stop)

    def _publish(self, batch: list[EventEnvelope]) -> None:
        updates = []
        for event in batch:
            if event.type not in RUN_EVENT_TYPES:
                continue
            try:
                updates.extend(self._runs.updates(event))
            except Exception:  # an event the mapping cannot read is the read model's dead letter, not ours
                log.warning("no live update for event %s (%s)", event.id, event.type, exc_info=True)
        if updates:
            self._bus.publish(updates)
            self.published += len(updates)
