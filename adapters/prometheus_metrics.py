"""The Prometheus metrics of one API process, in a registry of its own.

Every app instance gets its own ``CollectorRegistry`` (never the library's
global default), so tests that build many apps do not collide and two apps
in one process report separately. ``api.middleware`` counts HTTP requests,
the executor reports through ``ExecutionObserver`` (this class implements
it), the rate limiter counts its fail-opens, and the WebSocket endpoint
drives ``websocket_connections`` through ``websocket_connected`` /
``websocket_disconnected``. The event pipeline's lags and dead letters are
read at scrape time by ``adapters.pipeline_collector``.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of ``/metrics`` (Prometheus text format 0.0.4)."""

RUN_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
"""Graph runs last from milliseconds (pure blocks) to an hour (LLM agents)."""


class PlatformMetrics:
    """The instruments of one process; ``render`` gives the ``/metrics`` body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template (bounded: not the raw path) and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "endpoint"],
            registry=self.registry,
        )
        self.graph_executions = Counter(
            "graph_executions",
            "Graph executions this process's executor ended, by final status",
            ["status"],
            registry=self.registry,
        )
        self.graph_execution_duration = Histogram(
            "graph_execution_duration_seconds",
            "Time from a graph execution's start to its end, for runs this process's executor ended",
            ["status"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.node_executions = Counter(
            "node_executions",
            "Node executions this process's executor ended, by final status",
            ["status"],
            registry=self.registry,
        )
        self.rate_limit_fail_open = Counter(
            "rate_limit_fail_open",
            "Requests let through unchecked because the rate limiter's store (Redis) was unavailable",
            registry=self.registry,
        )
        self.websocket_connections = Gauge(
            "websocket_connections",
            "WebSocket connections currently open on this process",
            registry=self.registry,
        )

    # -- application.execution_observer.ExecutionObserver ---------------------

    def run_ended(self, status: str, duration_seconds: float | None) -> None:
        """Count a run that ended ``status`` and observe its duration."""
        self.graph_executions.labels(status=status).inc()
        if duration_seconds is not None:
            self.graph_execution_duration.labels(status=status).observe(max(0.0, duration_seconds))

    def node_ended(self, status: str) -> None:
        """Count a node execution that ended ``status``."""
        self.node_executions.labels(status=status).inc()

    # -- the WebSocket endpoint -----------------------------------------------

    def websocket_connected(self) -> None:
        """Call when a WebSocket is accepted (pair with ``websocket_disconnected`` in a ``finally``)."""
        self.websocket_connections.inc()

    def websocket_disconnected(self) -> None:
        """Call when a WebSocket closes, whichever side closed it."""
        self.websocket_connections.dec()

    # -- exposition -----------------------------------------------------------

    def register(self, collector: Collector) -> None:
        """Add a collector read at scrape time (the pipeline's figures)."""
        self.registry.register(collector)

    def render(self) -> bytes:
        """The ``/metrics`` body in Prometheus text format."""
        return generate_latest(self.registry)
