"""The FastAPI application: routers, middleware and error handlers, for one side of the API or both.

Commands and queries are deployed and scaled apart (``agentgraph serve --role
api-commands | api-queries | api``): ``COMMAND_ROUTERS`` hold every
POST/PUT/PATCH/DELETE route (they change aggregates), ``QUERY_ROUTERS`` every
GET route and ``/ws`` (they read the read models), ``COMMON_ROUTERS`` what
each process serves about itself (``/health``, ``/ready``, ``/metrics``, the
admin pipeline figures). Either side's app works alone, with the parts its
role builds (``api.bootstrap.ROLES``); a proxy in front routes by method
(GET and the WebSocket upgrade to queries, the rest to commands).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from adapters.jwt_keys import JWTConfig
from adapters.pipeline_collector import PipelineCollector
from adapters.prometheus_metrics import PlatformMetrics
from adapters.rate_limit.in_process import InProcessSlidingWindow
from adapters.rate_limit.limiter import RateLimiter
from adapters.rate_limit.redis_window import RedisSlidingWindow
from adapters.settings import Settings
from api.api_key_auth import close_authenticator, known_api_keys
from api.bootstrap import COMMANDS, QUERIES, api_role, build_for, build_pipeline_metrics, run_services
from api.composition import Container, Part
from api.cors import add_cors
from api.errors import UnhandledErrorMiddleware, install_error_handlers
from api.json_response import SafeJSONResponse
from api.live_updates import build_hub, run_live_updates
from api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from api.openapi_security import declare_auth
from api.rate_limit import RateLimitMiddleware
from api.readiness import readiness_checks
from api.request_context import RequestIdMiddleware
from api.request_metrics import RequestMetricsMiddleware
from api.routers import (
    admin,
    api_keys,
    blocks,
    credits,
    executions,
    external,
    graphs,
    health,
    integrations,
    library,
    live,
    notifications,
    schedules,
)
from api.routers import external_store as external_store_routes
from api.routers import store as store_routes

SIDES = frozenset({COMMANDS, QUERIES})
"""The two sides of the API; ``create_app`` serves both unless told otherwise."""

COMMON_ROUTERS: tuple[APIRouter, ...] = (health.router, admin.operations)
"""Served by every API process: probes, metrics and pipeline figures are about the process answering."""
COMMAND_ROUTERS: tuple[APIRouter, ...] = (
    blocks.commands,
    graphs.commands,
    executions.commands,
    api_keys.commands,
    external.commands,
    credits.commands,
    integrations.commands,
    integrations.admin_commands,
    schedules.commands,
    store_routes.commands,
    store_routes.admin_commands,
    library.commands,
    notifications.commands,
)
"""POST/PUT/PATCH/DELETE: each loads an aggregate, calls one verb and saves (role ``api-commands``)."""
QUERY_ROUTERS: tuple[APIRouter, ...] = (
    blocks.queries,
    graphs.queries,
    executions.queries,
    executions.public,
    admin.queries,
    live.router,
    api_keys.queries,
    external.queries,
    credits.queries,
    integrations.queries,
    schedules.queries,
    store_routes.queries,
    store_routes.admin_queries,
    external_store_routes.queries,
    library.queries,
    notifications.queries,
)
"""GET and ``/ws`` (role ``api-queries``): read models only, besides two reads of an event store that no
read model can stand in for: a run's replay for live updates, and an API key's state (``api.api_key_auth``)."""


def routers_for(sides: Collection[str]) -> list[APIRouter]:
    """The routers an app serving ``sides`` includes, in inclusion order (common ones first)."""
    unknown = set(sides) - SIDES
    if unknown or not sides:
        raise ValueError(f"sides must be some of {sorted(SIDES)}, not {sorted(sides)}")
    return [
        *COMMON_ROUTERS,
        *(COMMAND_ROUTERS if COMMANDS in sides else ()),
        *(QUERY_ROUTERS if QUERIES in sides else ()),
    ]


def create_app(
    container: Container | None = None,
    *,
    sides: Collection[str] = SIDES,
    run_executor: bool = False,
    run_projector: bool = False,
    run_relay: bool = False,
    run_notifier: bool = False,
    run_scheduler: bool = False,
) -> FastAPI:
    """Build the API serving ``sides`` around ``container`` (built from the environment if None).

    ``sides`` is ``{"commands"}``, ``{"queries"}`` or both (the default); the
    container needs the parts of the matching role (``api-commands``,
    ``api-queries``, ``api``). Only the query side holds the live-updates hub.

    With ``run_executor`` / ``run_projector`` / ``run_relay`` / ``run_notifier`` / ``run_scheduler`` those roles run
    inside the API's event loop (``agentgraph serve`` with all roles is the
    one-process platform); ``api.bootstrap`` says what each role starts. A
    container passed in is owned by the caller; one built here is closed when
    the app shuts down.
    """
    workers = [
        role
        for role, on in (
            ("relay", run_relay),
            ("projector", run_projector),
            ("executor", run_executor),
            ("notifier", run_notifier),
            ("scheduler", run_scheduler),
        )
        if on
    ]
    serving = frozenset(sides)
    routers = routers_for(serving)
    live_updates = QUERIES in serving
    owned = container is None
    the_container = container or build_for([api_role(serving), *workers], Settings())
    metrics = PlatformMetrics()  # one registry per app: tests building many apps do not collide

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with (
                run_services(the_container, workers, observer=metrics) as pipeline,
                run_live_updates(the_container, app.state.live_hub) if live_updates else nullcontext(),
            ):
                if pipeline is not None:
                    app.state.pipeline_metrics = pipeline  # now with the counters of its services
                yield
                close_authenticator(app)  # records the API keys' last uses not yet recorded
        finally:
            if the_container.redis is not None:
                # its connections belong to this event loop: drop them (they reopen lazily if reused)
                await the_container.redis.connection_pool.disconnect()
            if owned:
                the_container.close()

    app = FastAPI(
        title="agentgraph",
        version="0.1.0",
        description="Event-sourced backend for AutoGPT-style agent graphs.",
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.container = the_container
    if live_updates:
        app.state.live_hub = build_hub(the_container)  # its ``connections`` is the websocket_connections gauge
    # until the lifespan starts services; None where the process cannot see every event store (api-queries)
    app.state.pipeline_metrics = (
        build_pipeline_metrics(the_container) if {Part.LOGS, Part.READ_STORE} <= the_container.parts else None
    )
    app.state.metrics = metrics
    metrics.register(PipelineCollector(lambda: app.state.pipeline_metrics))
    settings = the_container.settings
    app.state.readiness_checks = readiness_checks(the_container, uses_kafka=bool(workers))
    app.state.rate_limiter = rate_limiter(the_container)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    # added first, so innermost: a bug's 500 or a 429 still gets the security headers and is counted in the metrics
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=app.state.rate_limiter,
        default_limit=settings.rate_limit_per_minute,
        limits=settings.rate_limits,
        jwt=lambda: _jwt_or_none(the_container),
        on_fail_open=metrics.rate_limit_fail_open.inc,
        known_api_key=known_api_keys(app),
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=the_container.settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outside the body limit: a 413 gets them too
    add_cors(app, settings.cors_allowed_origins)  # outside the limits: a browser can read a 413 or 429
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)  # sees every answer
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries X-Request-ID

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            # Bodies parsed by hand (to accept both AutoGPT shapes) still get their models documented.
            _, defs = models_json_schema(
                [(model, "validation") for model in graphs.BODY_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            declare_auth(schema, app.routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def rate_limiter(container: Container) -> RateLimiter:
    """Redis's sliding window when AGENTGRAPH_REDIS_URL is set (shared by every API process), else in process."""
    if container.redis is not None:
        return RedisSlidingWindow(container.redis, container.settings.redis_key_prefix)
    return InProcessSlidingWindow()


def _jwt_or_none(container: Container) -> JWTConfig | None:
    return container.jwt if Part.JWT in container.parts else None
