"""ASGI middleware counting HTTP requests for ``/metrics`` by route template, not raw path.

``endpoint`` is the matched route's template (``/api/graphs/{graph_id}``),
so the label's values are bounded by the route table whatever clients
send; requests no route matches are counted under ``<unmatched>``.
Requests answered before routing (413, 429) are matched against the route
table here to find their template.
"""

from __future__ import annotations

import time

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.prometheus_metrics import PlatformMetrics

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other (clients may send anything) is counted as ``OTHER``."""


def route_template(scope: Scope) -> str:
    """The template of the route that served (or would serve) this request."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match != Match.NONE and hasattr(candidate, "path"):
            return str(candidate.path)
    return UNMATCHED


class RequestMetricsMiddleware:
    """Observes ``http_requests_total`` and ``http_request_duration_seconds`` for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: PlatformMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = str(scope.get("method", "GET"))
            method = method if method in METHODS else "OTHER"
            endpoint = route_template(scope)
            self.metrics.http_requests.labels(method=method, endpoint=endpoint, status=str(status)).inc()
            self.metrics.http_request_duration.labels(method=method, endpoint=endpoint).observe(
                time.perf_counter() - started
            )
