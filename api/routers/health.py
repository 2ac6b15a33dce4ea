"""``/health``: liveness for load balancers (no auth)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.composition import ContainerDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness report."""

    status: str
    mode: str


@router.get("/health", summary="Is the API up")
def health(container: ContainerDep) -> Health:
    """``{"status": "healthy", "mode": "embedded" | "distributed"}``."""
    return Health(status="healthy", mode="embedded" if container.settings.embedded else "distributed")
