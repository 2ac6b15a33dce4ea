"""ASGI middleware counting HTTP requests for ``/metrics`` by route template, not raw path.

``endpoint`` is the matched route's template (``/api/graphs/{graph_id}``),
so the label's values are bounded by the route table whatever clients
send; requests no route matches are counted under ``<unmatched>``.
Requests answered before routing (413, 429) are matched here against the
templates of the app's OpenAPI document (public, and flat whatever way the
routers were included) to find theirs.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.prometheus_metrics import PlatformMetrics

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other (clients may send anything) is counted as ``OTHER``."""


def route_templates(app: Any) -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) of every documented route, static templates first."""
    paths = app.openapi().get("paths", {}) if hasattr(app, "openapi") else {}
    return [(compile_path(template)[0], template) for template in sorted(paths, key=lambda t: (t.count("{"), t))]


def route_template(scope: Scope, templates: list[tuple[re.Pattern[str], str]] | None = None) -> str:
    """The template of the route that served this request, else of the one that would have."""
    route = scope.get("route")
    if route is not None and hasattr(route, "path"):
        return str(route.path)
    path = str(scope.get("path", ""))
    for pattern, template in templates or ():
        if pattern.match(path):
            return template
    return UNMATCHED


class RequestMetricsMiddleware:
    """Observes ``http_requests_total`` and ``http_request_duration_seconds`` for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: PlatformMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: list[tuple[re.Pattern[str], str]] | None = None  # built at the first unrouted answer

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
            if scope.get("route") is None and self._templates is None:
                self._templates = route_templates(scope.get("app"))
            endpoint = route_template(scope, self._templates)
            self.metrics.http_requests.labels(method=method, endpoint=endpoint, status=str(status)).inc()
            self.metrics.http_request_duration.labels(method=method, endpoint=endpoint).observe(
                time.perf_counter() - started
            )
