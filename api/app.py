"""The FastAPI application: routers, middleware and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from adapters.settings import Settings
from api.api_key_auth import close_authenticator
from api.bootstrap import build_for, build_pipeline_metrics, run_services
from api.composition import Container
from api.errors import install_error_handlers
from api.json_response import SafeJSONResponse
from api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from api.routers import admin, api_keys, blocks, executions, external, graphs, health


def create_app(
    container: Container | None = None,
    *,
    run_executor: bool = False,
    run_projector: bool = False,
    run_relay: bool = False,
) -> FastAPI:
    """Build the API around ``container`` (built for the roles asked for, from the environment, if None).

    With ``run_executor`` / ``run_projector`` / ``run_relay`` those roles run
    inside the API's event loop (``agentgraph serve`` with all roles is the
    one-process platform); ``api.bootstrap`` says what each role starts. A
    container passed in is owned by the caller; one built here is closed when
    the app shuts down.
    """
    workers = [
        role for role, on in (("relay", run_relay), ("projector", run_projector), ("executor", run_executor)) if on
    ]
    owned = container is None
    the_container = container or build_for(["api", *workers], Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            async with run_services(the_container, workers) as metrics:
                if metrics is not None:
                    app.state.pipeline_metrics = metrics  # now with the counters of its services
                yield
                close_authenticator(app)  # records the API keys' last uses not yet recorded
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
    app.state.pipeline_metrics = build_pipeline_metrics(the_container)  # until the lifespan starts services
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(blocks.router)
    app.include_router(graphs.commands)
    app.include_router(graphs.queries)
    app.include_router(executions.commands)
    app.include_router(executions.queries)
    app.include_router(admin.router)
    app.include_router(api_keys.commands)
    app.include_router(api_keys.queries)
    app.include_router(external.commands)
    app.include_router(external.queries)
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
