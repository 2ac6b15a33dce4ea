"""``/api/admin``: support tooling for admins (role ``admin`` in the token).

``queries`` reads the read models (the query side); ``operations`` reports on
the process itself, as ``/metrics`` does, so every API process serves it
(one without every event store answers 503: see ``api.composition.get_pipeline_metrics``).
"""

from __future__ import annotations

from fastapi import APIRouter

from adapters.pipeline_metrics import PipelineSnapshot
from api.auth import AdminUser
from api.composition import ContainerDep, PipelineMetricsDep
from api.consistency import GraphsConsistent
from api.errors import responses
from projections.graphs.models import GraphMeta

queries = APIRouter(prefix="/api/admin", tags=["admin"], responses=responses(400, 401, 403, 422, 503))
operations = APIRouter(prefix="/api/admin", tags=["admin"], responses=responses(400, 401, 403, 422, 503))


@queries.get("/users/{user_id}/graphs", summary="List any user's graphs (admins only)", dependencies=[GraphsConsistent])
def list_user_graphs(user_id: str, _: AdminUser, container: ContainerDep) -> list[GraphMeta]:
    """The active version of each of ``user_id``'s graphs; 403 for non-admins."""
    return container.graph_queries.list_graphs(user_id)


@operations.get("/metrics/pipeline", summary="Event pipeline lag and throughput (admins only)")
def pipeline_metrics(_: AdminUser, metrics: PipelineMetricsDep) -> PipelineSnapshot:
    """Heads of the event stores, relay and projector lag against them, and this process's throughput.

    Lag is counted in events against the event store, never Kafka's offsets.
    The ``relay`` and ``projector`` sections describe the services this
    process runs (null when it runs none); the positions come from the
    databases, so they are the same whichever process answers. 403 for non-admins.
    """
    return metrics.snapshot()
