"""Every projection the platform maintains, by name."""

from __future__ import annotations

from projections.api_keys.projection import ApiKeysProjection
from projections.audit import AuditProjection
from projections.base import Projection, accounted_for
from projections.credentials.projection import CredentialsProjection
from projections.credits.projection import CreditsProjection
from projections.executions.projection import ExecutionsProjection
from projections.graphs.projection import GraphsProjection
from projections.library.projection import LibraryProjection
from projections.notifications.projection import NotificationsProjection
from projections.schedules.projection import SchedulesProjection
from projections.store_listings.projection import StoreListingsProjection


def all_projections() -> list[Projection]:
    """The projections, in the order they are created and reported (each accounts for its contexts' events)."""
    projections = (
        GraphsProjection(),
        ExecutionsProjection(),
        AuditProjection(),
        ApiKeysProjection(),
        CreditsProjection(),
        CredentialsProjection(),
        SchedulesProjection(),
        StoreListingsProjection(),
        LibraryProjection(),
        NotificationsProjection(),
    )
    return [accounted_for(p) for p in projections]


def projection_named(name: str) -> Projection:
    """One projection by name; ``KeyError`` lists the known names."""
    for projection in all_projections():
        if projection.name == name:
            return projection
    raise KeyError(f"no projection {name!r}; known: {', '.join(p.name for p in all_projections())}")
