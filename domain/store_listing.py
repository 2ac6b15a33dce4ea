"""Store listings: one graph published to the store, its submitted versions and their reviews by admins.

``StoreListing`` is the event-sourced aggregate of the store context, one per
graph (its id is derived from the graph id, so a graph never gets two
listings, whoever submits it twice at once). Each submission adds a listing
version (AutoGPT's ``StoreListingVersion``: 1, 2, ...) with the agent's name,
texts, images and categories, created ``PENDING`` (AutoGPT's rule; ``DRAFT``
exists as a status but no route makes one). An admin approves or rejects a
PENDING version (``VersionReviewed``); an approved version becomes the
listing's active version. The owner may withdraw a version
(``VersionDeleted``): it leaves the store and the owner's submissions.

Decisions where AutoGPT is silent or racy:
- the slug is the listing's: given by the first submission, unchanged by later ones;
- only a PENDING version can be reviewed (a second review of the same version is 409);
- withdrawing the active version makes the newest other approved version active, if any.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.not_found import NotFoundError

LISTING_NAMESPACE = uuid.UUID("5b0f3f0e-7d1e-4d55-9c55-2f2f1d3c6a01")
"""Listing ids are ``uuid5(LISTING_NAMESPACE, graph_id)``: one listing per graph."""


class SubmissionStatus(enum.StrEnum):
    """AutoGPT's ``SubmissionStatus``."""

    DRAFT = "DRAFT"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class StoreListingNotFoundError(NotFoundError):
    """No such listing or listing version for this caller (unknown, withdrawn, or someone else's)."""


class SubmissionNotPendingError(Exception):
    """The version was already reviewed (or withdrawn): it cannot be reviewed again."""


def listing_id_for(graph_id: str) -> uuid.UUID:
    """The id of the listing of ``graph_id`` (whether or not it exists yet)."""
    return uuid.uuid5(LISTING_NAMESPACE, graph_id)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StoreListing(Aggregate):
    """One graph's presence in the store: its versions, their statuses, the active one."""

    class Created(Aggregate.Created):
        """The graph's first submission created its listing."""

        owner_user_id: str
        graph_id: str
        slug: str
        created_at: str

    @event(Created)
    def __init__(self, owner_user_id: str, graph_id: str, slug: str, created_at: str) -> None:
        self.owner_user_id = owner_user_id
        self.graph_id = graph_id
        self.slug = slug
        self.created_at = created_at
        self.versions: dict[str, dict[str, Any]] = {}
        """store_listing_version_id -> the version's fields (``status``, ``graph_version``, ``name`` ...)."""
        self.active_version_id: str | None = None

    @classmethod
    def create(cls, owner_user_id: str, graph_id: str, slug: str) -> StoreListing:
        """The listing of ``graph_id``, owned by ``owner_user_id``."""
        return cls._create(
            cls.Created,
            id=listing_id_for(graph_id),
            owner_user_id=owner_user_id,
            graph_id=graph_id,
            slug=slug,
            created_at=_now(),
        )

    # -- submissions ------------------------------------------------------

    def submit(self, graph_version: int, details: dict[str, Any]) -> str:
        """Add a PENDING version for ``graph_version`` with ``details`` (name, texts, media); returns its id."""
        version_id = str(uuid.uuid4())
        number = max((v["version"] for v in self.versions.values()), default=0) + 1
        self._version_submitted(
            store_listing_version_id=version_id,
            version=number,
            graph_version=graph_version,
            details=dict(details),
            submitted_at=_now(),
        )
        return version_id

    class VersionSubmitted(Aggregate.Event):
        """A new version was submitted for review (PENDING)."""

        store_listing_version_id: str
        version: int
        graph_version: int
        details: dict[str, Any]
        """name, sub_heading, description, instructions, image_urls, video_url, agent_output_demo_url,
        categories, changes_summary, recommended_schedule_cron."""
        submitted_at: str

    @event(VersionSubmitted)
    def _version_submitted(
        self,
        store_listing_version_id: str,
        version: int,
        graph_version: int,
        details: dict[str, Any],
        submitted_at: str,
    ) -> None:
        self.versions[store_listing_version_id] = {
            **details,
            "version": version,
            "graph_version": graph_version,
            "status": SubmissionStatus.PENDING.value,
            "submitted_at": submitted_at,
        }

    def live_version(self, store_listing_version_id: str) -> dict[str, Any]:
        """One live version's fields; ``StoreListingNotFoundError`` if unknown or withdrawn."""
        found = self.versions.get(store_listing_version_id)
        if found is None:
            raise StoreListingNotFoundError(f"Store listing version {store_listing_version_id} not found")
        return found

    # -- admin review -----------------------------------------------------

    def review(
        self,
        store_listing_version_id: str,
        *,
        approved: bool,
        reviewer_id: str,
        review_comments: str,
        internal_comments: str | None,
    ) -> None:
        """Approve or reject a PENDING version (409 ``SubmissionNotPendingError`` otherwise)."""
        version = self.live_version(store_listing_version_id)
        if version["status"] != SubmissionStatus.PENDING.value:
            raise SubmissionNotPendingError(
                f"Store listing version {store_listing_version_id} is {version['status']}, not PENDING"
            )
        self._version_reviewed(
            owner_user_id=self.owner_user_id,
            store_listing_version_id=store_listing_version_id,
            graph_id=self.graph_id,
            graph_version=int(version["graph_version"]),
            agent_name=str(version.get("name") or ""),
            approved=approved,
            reviewer_id=reviewer_id,
            review_comments=review_comments,
            internal_comments=internal_comments,
            reviewed_at=_now(),
        )

    class VersionReviewed(Aggregate.Event):
        """An admin approved or rejected a version (the notifications and the library read this event)."""

        owner_user_id: str
        store_listing_version_id: str
        graph_id: str
        graph_version: int
        agent_name: str
        approved: bool
        reviewer_id: str
        review_comments: str
        internal_comments: str | None
        reviewed_at: str

    @event(VersionReviewed)
    def _version_reviewed(
        self,
        owner_user_id: str,
        store_listing_version_id: str,
        graph_id: str,
        graph_version: int,
        agent_name: str,
        approved: bool,
        reviewer_id: str,
        review_comments: str,
        internal_comments: str | None,
        reviewed_at: str,
    ) -> None:
        version = self.versions[store_listing_version_id]
        version["status"] = (SubmissionStatus.APPROVED if approved else SubmissionStatus.REJECTED).value
        version["reviewer_id"] = reviewer_id
        version["review_comments"] = review_comments
        version["internal_comments"] = internal_comments
        version["reviewed_at"] = reviewed_at
        if approved:
            self.active_version_id = store_listing_version_id

    # -- withdrawal -------------------------------------------------------

    def withdraw(self, store_listing_version_id: str) -> None:
        """Remove a version (any status) from the store and from the owner's submissions."""
        self.live_version(store_listing_version_id)
        remaining = [
            (v["version"], vid)
            for vid, v in self.versions.items()
            if vid != store_listing_version_id and v["status"] == SubmissionStatus.APPROVED.value
        ]
        active = self.active_version_id
        if active == store_listing_version_id:
            active = max(remaining)[1] if remaining else None
        self._version_deleted(store_listing_version_id=store_listing_version_id, active_version_id=active)

    class VersionDeleted(Aggregate.Event):
        """The owner withdrew a version; ``active_version_id`` is the listing's active version afterwards."""

        store_listing_version_id: str
        active_version_id: str | None

    @event(VersionDeleted)
    def _version_deleted(self, store_listing_version_id: str, active_version_id: str | None) -> None:
        del self.versions[store_listing_version_id]
        self.active_version_id = active_version_id
