"""Store events (and the executions log's run requests) -> the ``read.store_*`` tables.

Deterministic: every value comes from the events (their own timestamps), so
a rebuild equals the live tables. Run counts are kept per (graph, user) for
every top-level run, whichever log is applied first; a listing's count
excludes its creator's runs when it is read (``queries``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.event_types import events_of_other_aggregates
from domain.execution import GraphExecution
from domain.graph import Graph
from domain.store_listing import StoreListing, SubmissionStatus
from domain.store_profile import StoreProfile
from domain.store_review import StoreReview
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx
from projections.store_listings.tables import STORE_DELETED_GRAPHS, STORE_LISTING_VERSIONS, STORE_REVIEWS, TABLES

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _profile_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    tx.execute(
        f"INSERT INTO {tx.t('store_profiles')} (user_id, profile_id, name, username, description, links, avatar_url, "
        "is_featured, updated_at) VALUES (:user_id, :profile_id, '', '', '', :links, NULL, :no, :at) "
        "ON CONFLICT (user_id) DO NOTHING",
        {
            "user_id": event.data["user_id"],
            "profile_id": event.aggregate_id,
            "links": tx.json([]),
            "no": False,
            "at": event.timestamp,
        },
    )


def _profile_saved(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"UPDATE {tx.t('store_profiles')} SET name = :name, username = :username, description = :description, "
        "links = :links, avatar_url = :avatar_url, updated_at = :at WHERE profile_id = :profile_id",
        {
            "name": data["name"],
            "username": data["username"],
            "description": data["description"],
            "links": tx.json(list(data.get("links") or [])),
            "avatar_url": data.get("avatar_url"),
            "at": data["updated_at"],
            "profile_id": event.aggregate_id,
        },
    )


def _listing_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"INSERT INTO {tx.t('store_listings')} (listing_id, owner_user_id, graph_id, slug, active_version_id, "
        "has_approved_version, created_at, updated_at) VALUES (:listing_id, :owner, :graph_id, :slug, NULL, :no, "
        ":at, :at) ON CONFLICT (listing_id) DO NOTHING",
        {
            "listing_id": event.aggregate_id,
            "owner": data["owner_user_id"],
            "graph_id": data["graph_id"],
            "slug": data["slug"],
            "no": False,
            "at": data["created_at"],
        },
    )


def _listing_row(tx: ReadModelTx, listing_id: str) -> dict[str, Any]:
    row = tx.fetchone(f"SELECT * FROM {tx.t('store_listings')} WHERE listing_id = :id", {"id": listing_id})
    assert row is not None, f"listing {listing_id} has events but no row"
    return row


def _version_submitted(tx: ReadModelTx, event: EventEnvelope) -> None:
    data, details = event.data, dict(event.data.get("details") or {})
    listing = _listing_row(tx, event.aggregate_id)
    categories = [str(c) for c in details.get("categories") or []]
    tx.upsert(
        STORE_LISTING_VERSIONS,
        [
            {
                "store_listing_version_id": data["store_listing_version_id"],
                "listing_id": event.aggregate_id,
                "owner_user_id": listing["owner_user_id"],
                "version": data["version"],
                "graph_id": listing["graph_id"],
                "graph_version": data["graph_version"],
                "name": details.get("name") or "",
                "sub_heading": details.get("sub_heading") or "",
                "description": details.get("description") or "",
                "instructions": details.get("instructions"),
                "image_urls": list(details.get("image_urls") or []),
                "video_url": details.get("video_url"),
                "agent_output_demo_url": details.get("agent_output_demo_url"),
                "categories": categories,
                "category_keys": "".join(f"\n{c.lower()}\n" for c in categories),
                "changes_summary": details.get("changes_summary"),
                "recommended_schedule_cron": details.get("recommended_schedule_cron"),
                "is_featured": False,
                "status": SubmissionStatus.PENDING.value,
                "submitted_at": data["submitted_at"],
                "reviewed_at": None,
                "reviewer_id": None,
                "review_comments": None,
                "internal_comments": None,
            }
        ],
    )
    _touch(tx, event.aggregate_id, data["submitted_at"])


def _version_reviewed(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    status = SubmissionStatus.APPROVED if data["approved"] else SubmissionStatus.REJECTED
    tx.execute(
        f"UPDATE {tx.t('store_listing_versions')} SET status = :status, reviewed_at = :at, reviewer_id = :reviewer, "
        "review_comments = :comments, internal_comments = :internal WHERE store_listing_version_id = :version_id",
        {
            "status": status.value,
            "at": data["reviewed_at"],
            "reviewer": data["reviewer_id"],
            "comments": data["review_comments"],
            "internal": data.get("internal_comments"),
            "version_id": data["store_listing_version_id"],
        },
    )
    if data["approved"]:
        tx.execute(
            f"UPDATE {tx.t('store_listings')} SET active_version_id = :version_id WHERE listing_id = :listing_id",
            {"version_id": data["store_listing_version_id"], "listing_id": event.aggregate_id},
        )
    _touch(tx, event.aggregate_id, data["reviewed_at"])


def _version_deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"DELETE FROM {tx.t('store_listing_versions')} WHERE store_listing_version_id = :version_id",
        {"version_id": data["store_listing_version_id"]},
    )
    tx.execute(
        f"UPDATE {tx.t('store_listings')} SET active_version_id = :active WHERE listing_id = :listing_id",
        {"active": data.get("active_version_id"), "listing_id": event.aggregate_id},
    )
    _touch(tx, event.aggregate_id, event.timestamp)


def _touch(tx: ReadModelTx, listing_id: str, at: str) -> None:
    """Recompute ``has_approved_version`` and set ``updated_at`` after a version changed."""
    tx.execute(
        f"UPDATE {tx.t('store_listings')} SET updated_at = :at, has_approved_version = EXISTS ("
        f"SELECT 1 FROM {tx.t('store_listing_versions')} v WHERE v.listing_id = :listing_id "
        "AND v.status = :approved) WHERE listing_id = :listing_id",
        {"at": at, "listing_id": listing_id, "approved": SubmissionStatus.APPROVED.value},
    )


def _review_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.upsert(
        STORE_REVIEWS,
        [
            {
                "store_listing_version_id": data["store_listing_version_id"],
                "user_id": data["user_id"],
                "review_id": event.aggregate_id,
                "listing_id": data["listing_id"],
                "score": data["score"],
                "comments": data.get("comments"),
                "reviewed_at": data["reviewed_at"],
            }
        ],
    )


def _review_revised(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"UPDATE {tx.t('store_reviews')} SET score = :score, comments = :comments, reviewed_at = :at "
        "WHERE review_id = :review_id",
        {
            "score": data["score"],
            "comments": data.get("comments"),
            "at": data["reviewed_at"],
            "review_id": event.aggregate_id,
        },
    )


def _run_requested(tx: ReadModelTx, event: EventEnvelope) -> bool:
    """Count a top-level run of the graph by its user (a sub-agent's run is part of its parent's); True if counted."""
    data = event.data
    if data.get("parent_execution_id"):
        return False
    _add(tx, "store_graph_runs", {"graph_id": data["graph_id"], "user_id": data["user_id"]}, "runs", 1)
    return True


def _add(tx: ReadModelTx, table: str, key: dict[str, Any], column: str, n: int) -> None:
    """``column += n`` in the row of ``table`` with ``key`` (made with ``n`` if missing): the projection is serial."""
    where = " AND ".join(f"{name} = :{name}" for name in key)
    if tx.fetchone(f"SELECT 1 AS found FROM {tx.t(table)} WHERE {where}", key) is None:
        names = ", ".join(key)
        tx.execute(
            f"INSERT INTO {tx.t(table)} ({names}, {column}) VALUES ({', '.join(':' + k for k in key)}, :n)",
            {**key, "n": n},
        )
    else:
        tx.execute(f"UPDATE {tx.t(table)} SET {column} = {column} + :n WHERE {where}", {**key, "n": n})


_STORE_HANDLERS = EventHandlers[Handler](
    {
        StoreProfile.Created: _profile_created,
        StoreProfile.Saved: _profile_saved,
        StoreListing.Created: _listing_created,
        StoreListing.VersionSubmitted: _version_submitted,
        StoreListing.VersionReviewed: _version_reviewed,
        StoreListing.VersionDeleted: _version_deleted,
        StoreReview.Created: _review_created,
        StoreReview.Revised: _review_revised,
    }
)


def _graph_deleted(tx: ReadModelTx, event: EventEnvelope) -> bool:
    """A deleted graph leaves the store: noted here, in the same transaction as the cache generation's move."""
    tx.upsert(STORE_DELETED_GRAPHS, [{"graph_id": event.aggregate_id}], replace=False)
    return True


_RUN_HANDLERS = EventHandlers[Callable[[ReadModelTx, EventEnvelope], bool]](
    {GraphExecution.Requested: _run_requested, Graph.Deleted: _graph_deleted}
)
"""Events of the executions and graphs logs that change what the store shows."""


class StoreListingsProjection(Projection):
    """Store aggregates and run requests -> the ``store_*`` tables."""

    name = "store_listings"
    contexts = frozenset({"store", "executions", "graphs"})
    tables = TABLES
    handles = _STORE_HANDLERS.types | _RUN_HANDLERS.types
    ignores = (
        events_of_other_aggregates("executions")
        | events_of_other_aggregates("graphs")
        | events_of_other_aggregates("store", StoreListing, StoreProfile, StoreReview)  # username claims
    ) - _RUN_HANDLERS.types

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order; every change moves the cache generation on.

        The generation counts store events, counted runs and graph deletions,
        so it is the same whichever log a rebuild applies first.
        """
        changes = 0
        for event in batch:
            handler = _STORE_HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
                changes += 1
            elif (counter := _RUN_HANDLERS.get(event.type)) is not None and counter(tx, event):
                changes += 1
        if changes:
            _add(tx, "store_generation", {"scope": "store"}, "generation", changes)
