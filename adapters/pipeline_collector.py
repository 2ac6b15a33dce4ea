"""The event pipeline's figures (``adapters.pipeline_metrics``) as Prometheus metrics, read at scrape time.

Heads, relay lag, projection lag and parked events (dead letters) are
gauges read from the databases on each scrape, like the JSON route
``/api/admin/metrics/pipeline``; the relay's and projector's event counts
are counters of this process. A scrape whose figures cannot be read (the
database is down) yields the other metrics and logs once per failure
streak: ``/ready`` says what is down, ``/metrics`` stays up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.pipeline_metrics import PipelineMetrics, PipelineSnapshot

log = logging.getLogger(__name__)


class PipelineCollector(Collector):
    """Publishes ``PipelineMetrics.snapshot()`` on every scrape."""

    def __init__(self, source: Callable[[], PipelineMetrics | None]) -> None:
        self.source = source  # the app's current PipelineMetrics: replaced once its services start
        self._failing = False

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: the figures are read from the databases only when scraped."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """The figures now (nothing when they cannot be read)."""
        metrics = self.source()
        if metrics is None:
            return
        try:
            snapshot = metrics.snapshot()
        except Exception as exc:
            if not self._failing:
                log.warning("pipeline metrics unavailable: %s: %s", type(exc).__name__, exc)
            self._failing = True
            return
        self._failing = False
        yield from pipeline_metric_families(snapshot)


def pipeline_metric_families(snapshot: PipelineSnapshot) -> Iterator[Metric]:
    """One snapshot as Prometheus metric families."""
    head = GaugeMetricFamily(
        "agentgraph_event_store_head", "Position of the newest event in each context's event store", labels=["context"]
    )
    relay_lag = GaugeMetricFamily(
        "agentgraph_relay_lag_events", "Events stored but not yet published to Kafka by the relay", labels=["context"]
    )
    for context, figures in snapshot.contexts.items():
        head.add_metric([context], figures.head)
        if figures.relay_lag is not None:
            relay_lag.add_metric([context], figures.relay_lag)
    lag = GaugeMetricFamily(
        "agentgraph_projection_lag_events",
        "Events in the store a projection has not applied yet",
        labels=["projection", "context"],
    )
    parked = GaugeMetricFamily(
        "agentgraph_dead_letters",
        "Events a projection parked instead of applying (read.dead_letters)",
        labels=["projection", "context"],
    )
    for projection, by_context in snapshot.projections.items():
        for context, position in by_context.items():
            lag.add_metric([projection, context], position.lag)
            parked.add_metric([projection, context], position.parked)
    yield from (head, relay_lag, lag, parked)
    if snapshot.relay is not None:
        published = CounterMetricFamily(
            "agentgraph_relay_published_events", "Events this process's relay published to Kafka"
        )
        published.add_metric([], snapshot.relay.published.events)
        active = GaugeMetricFamily("agentgraph_relay_active", "1 while this process's relay holds the relay lock")
        active.add_metric([], 1 if snapshot.relay.active else 0)
        yield from (published, active)
    if snapshot.projector is not None:
        received = CounterMetricFamily(
            "agentgraph_projector_received_events", "Events this process's projector took in", labels=["feed"]
        )
        received.add_metric([snapshot.projector.feed], snapshot.projector.received.events)
        applied = CounterMetricFamily(
            "agentgraph_projector_applied_events",
            "Event applications this process's projector wrote (once per projection fed)",
            labels=["feed"],
        )
        applied.add_metric([snapshot.projector.feed], snapshot.projector.applied.events)
        yield from (received, applied)
    if snapshot.executor is not None:
        written = CounterMetricFamily(
            "agentgraph_executor_written_events", "Events this process's executor wrote (group commit)"
        )
        written.add_metric([], snapshot.executor.events)
        conflicts = CounterMetricFamily(
            "agentgraph_executor_write_conflicts", "Runs whose pending events were refused (moved on elsewhere)"
        )
        conflicts.add_metric([], snapshot.executor.conflicts)
        ledger_conflicts = CounterMetricFamily(
            "agentgraph_executor_ledger_conflicts",
            "Credit charges written after a conflict (the user's ledger changed elsewhere, e.g. a top-up)",
        )
        ledger_conflicts.add_metric([], snapshot.executor.ledger_conflicts)
        yield from (written, conflicts, ledger_conflicts)
