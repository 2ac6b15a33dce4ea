"""``/api/admin``: support tooling for admins (role ``admin`` in the token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import AdminUser
from api.composition import ContainerDep
from api.consistency import GraphsConsistent

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/users/{user_id}/graphs", summary="List any user's graphs (admins only)", dependencies=[GraphsConsistent])
def list_user_graphs(user_id: str, _: AdminUser, container: ContainerDep) -> list[dict[str, Any]]:
    """The active version of each of ``user_id``'s graphs; 403 for non-admins."""
    return container.graph_views.list_graphs(user_id)
