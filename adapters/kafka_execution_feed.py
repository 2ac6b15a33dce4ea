"""Feeds the executor from the executions topic (distributed mode).

The executors form one consumer group on ``<prefix>.executions``; owning a
partition means running the executions keyed to it. On assignment an
executor resumes every unfinished run of its new partitions from the run's
events (the previous owner may have died mid-run); on revocation it lets go
of those runs so the new owner can take them. Queued runs and stop requests
(keyed by their run) arrive as records. Duplicated or late deliveries are
harmless: the executor claims a run once, and the run aggregate's optimistic
concurrency stops a second executor from writing twice. Stop requests
are also read straight from the store (``ExecutionLogFeed(stops_only=True)``),
so a stop does not queue behind a loop's flood of events in the relay and
the topic. If the consumer fails, it lets go of its partitions' runs and starts again
(``adapters.background_worker``). A record it cannot act on (one that does
not decode, a stop request without its fields) is logged once and passed
over, never retried for ever.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any
from uuid import UUID

from kafka import KafkaConsumer, OffsetAndMetadata
from kafka.consumer.subscription_state import ConsumerRebalanceListener

from adapters.background_worker import BackgroundWorker
from adapters.execution_feed import ExecutionLogFeed, open_runs
from adapters.kafka_topics import partition_for, topic_for
from application.executions import ExecutionsApplication
from application.executor import Executor
from domain.event_types import type_name
from domain.execution import ExecutionStopRequest, GraphExecution
from domain.json_codec import decode

log = logging.getLogger(__name__)

QUEUED = type_name(GraphExecution.Queued)
STOP_REQUESTED = type_name(ExecutionStopRequest.Requested)
"""The two event types the feed acts on: a run to take, a run to stop."""


class KafkaExecutionFeed:
    """Kafka consumer (in a thread) driving an ``Executor`` (in its asyncio loop)."""

    def __init__(
        self,
        app: ExecutionsApplication,
        executor: Executor,
        bootstrap: str,
        prefix: str,
        partitions: int,
        *,
        consumer_config: dict[str, Any] | None = None,
    ) -> None:
        self._app = app
        self._executor = executor
        self._topic = topic_for(prefix, "executions")
        self._partitions = partitions
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "group_id": f"{prefix}.executor",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            # topics are made by `agentgraph db init` / the relay with the configured partition count
            "allow_auto_create_topics": False,
            **(consumer_config or {}),
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker = BackgroundWorker("executor-feed", self._consume)
        self._stops = ExecutionLogFeed(app, executor, stops_only=True)
        self.owned: set[int] = set()

    async def start(self) -> None:
        """Start consuming (call from the executor's loop)."""
        self._loop = asyncio.get_running_loop()
        await self._stops.start()
        self._worker.start()

    async def close(self) -> None:
        """Stop consuming; the group hands the partitions to other executors."""
        await asyncio.to_thread(self._worker.stop)
        await self._stops.close()

    # -- in the consumer thread ------------------------------------------

    def _call(self, method: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(method, *args)

    def _assigned(self, assigned: Any) -> None:
        new = {tp.partition for tp in assigned} - self.owned
        self.owned |= new
        if not new:
            return
        runs, _ = open_runs(self._app)
        resumed = [run for run in runs if partition_for(str(run), self._partitions) in new]
        log.info("executor owns partitions %s: resuming %d unfinished run(s)", sorted(new), len(resumed))
        for execution_id in resumed:
            self._call(self._executor.submit, execution_id)

    def _revoked(self, revoked: Any) -> None:
        self._let_go({tp.partition for tp in revoked})

    def _let_go(self, lost: set[int]) -> None:
        self.owned -= lost
        if lost:
            self._call(
                self._executor.release, lambda execution_id: partition_for(str(execution_id), self._partitions) in lost
            )

    def _deliver(self, record: Any) -> None:
        envelope = decode(record.value)
        if envelope["type"] == QUEUED:
            self._call(self._executor.submit, UUID(envelope["aggregate_id"]))
        elif envelope["type"] == STOP_REQUESTED:
            data = envelope["data"]
            self._call(self._executor.stop_requested, UUID(data["execution_id"]), data["requested_by"])

    def _consume(self, stop: threading.Event) -> None:
        feed = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked: Any) -> None:
                feed._revoked(revoked)

            def on_partitions_assigned(self, assigned: Any) -> None:
                feed._assigned(assigned)

        consumer = KafkaConsumer(**self._config)
        consumer.subscribe([self._topic], listener=Listener())
        try:
            while not stop.is_set():
                polled = consumer.poll(timeout_ms=200, max_records=500)
                offsets = {}
                for tp, records in polled.items():
                    for record in records:
                        try:
                            self._deliver(record)
                        except (KeyError, ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
                            log.error("executor feed passed over %s offset %d: %r", tp, record.offset, error)
                    offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, None, -1)
                if offsets:
                    consumer.commit(offsets)
        finally:
            consumer.close()
            if not stop.is_set():  # failed: the restarted consumer starts owning nothing
                self._let_go(set(self.owned))
