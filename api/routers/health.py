"""Probes and scraping (no auth): ``/health`` (liveness), ``/ready`` (readiness), ``/metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from adapters.prometheus_metrics import CONTENT_TYPE, PlatformMetrics
from api.composition import ContainerDep
from api.errors import error_body
from api.readiness import run_checks

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness report."""

    status: str
    mode: str


class Ready(BaseModel):
    """Readiness report: every backend this process uses answered."""

    status: str = Field(description='"ready"')
    checks: dict[str, str] = Field(description='backend -> "ok" (event_stores, read_database, redis, kafka)')


class NotReady(BaseModel):
    """Some backend did not answer (503)."""

    detail: str = Field(description="Names what failed")
    code: str = Field(description='"not_ready"')
    checks: dict[str, str] = Field(description='backend -> "ok" or "failed: <why>"')


@router.get("/health", summary="Is the API up")
def health(container: ContainerDep) -> Health:
    """``{"status": "healthy", "mode": "embedded" | "distributed"}``: no backend is asked (liveness)."""
    return Health(status="healthy", mode="embedded" if container.settings.embedded else "distributed")


@router.get(
    "/ready",
    summary="Can the API serve: are its databases, Redis and Kafka answering",
    response_model=Ready,
    responses={503: {"model": NotReady, "description": "A backend did not answer; the body names which"}},
)
async def ready(request: Request, container: ContainerDep) -> Response:
    """200 with every check ``"ok"``; 503 naming what failed (see ``api.readiness``)."""
    checks = await run_checks(request.app.state.readiness_checks, container.settings.ready_timeout_seconds)
    failed = sorted(name for name, result in checks.items() if result != "ok")
    if failed:
        return JSONResponse(
            error_body(503, f"Not ready: {', '.join(failed)} failed", "not_ready", checks=checks), status_code=503
        )
    return JSONResponse(Ready(status="ready", checks=checks).model_dump())


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    """HTTP, executor, rate-limit, WebSocket and event-pipeline metrics in Prometheus text format."""
    platform: PlatformMetrics = request.app.state.metrics
    return Response(platform.render(), media_type=CONTENT_TYPE)
