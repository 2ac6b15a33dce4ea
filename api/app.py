"""The FastAPI application: routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from adapters.settings import Settings
from api.bootstrap import build_for, build_pipeline_metrics, run_services
from api.composition import Container
from api.errors import install_error_handlers
from api.json_response import SafeJSONResponse
from api.live_updates import build_hub, run_live_updates
from api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from api.routers import admin, blocks, executions, graphs, health, live


def create_app(
    container: Container | None = None,
    *,
    run_executor: bool = False,
    run_projector: bool = False,
    run_relay: bool = False,
    run_notifier: bool = False,
) -> FastAPI:
    """Build the API around ``container`` (built for the roles asked for, from the environment, if None).

    With ``run_executor`` / ``run_projector`` / ``run_relay`` / ``run_notifier`` those roles run
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
        )
        if on
    ]
    owned = container is None
    the_container = container or build_for(["api", *workers], Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with (
                run_services(the_container, workers) as metrics,
                run_live_updates(the_container, app.state.live_hub),
            ):
                if metrics is not None:
                    app.state.pipeline_metrics = metrics  # now with the counters of its services
                yield
        finally:
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
    app.state.live_hub = build_hub(the_container)  # its ``connections`` is the websocket_connections gauge
    app.state.pipeline_metrics = build_pipeline_metrics(the_container)  # until the lifespan starts services
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(blocks.router)
    app.include_router(graphs.commands)
    app.include_router(graphs.queries)
    app.include_router(executions.commands)
    app.include_router(executions.queries)
    app.include_router(admin.router)
    app.include_router(live.router)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=the_container.settings.max_body_bytes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            # Bodies parsed by hand (to accept both AutoGPT shapes) still get their models documented.
            _, defs = models_json_schema(
                [(model, "validation") for model in graphs.BODY_MODELS],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
