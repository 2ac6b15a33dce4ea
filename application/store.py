"""The store context: creators' profiles, listings with their submitted versions, admin reviews, user ratings.

One eventsourcing Application with its own events table (``store_events``).
Ownership is enforced here: another user's submission reads as not found
(404). The caller (an API route) resolves what only the read side knows (a
listing version's listing, a username's owner) and checks the graph version
belongs to the submitter (``GraphsApplication.graph_for_run``); these use
cases take the ids and decide on the aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from application.results import Written, position_of
from domain.store_listing import (
    StoreListing,
    StoreListingNotFoundError,
    SubmissionStatus,
    listing_id_for,
)
from domain.store_profile import StoreProfile, StoreUsername, UsernameTakenError, profile_id_for, username_id_for
from domain.store_review import StoreReview, review_id_for


@dataclass(frozen=True)
class ProfileWritten(Written):
    """A profile as the save left it."""

    user_id: str
    name: str
    username: str
    description: str
    links: list[str]
    avatar_url: str | None


@dataclass(frozen=True)
class ListingWritten(Written):
    """A listing version as a command left it (submitted, reviewed or withdrawn)."""

    listing_id: str
    owner_user_id: str
    graph_id: str
    slug: str
    store_listing_version_id: str
    version: dict[str, Any]
    """The version's fields (status, graph_version, name, texts, review ...); empty once withdrawn."""


@dataclass(frozen=True)
class ReviewWritten(Written):
    """A user's review as the upsert left it."""

    score: int
    comments: str | None


class StoreApplication(Application[UUID]):
    """Use cases of the store context."""

    name = "store"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__({"AGGREGATE_CACHE_MAXSIZE": "1000", **(env or {})})

    # -- profiles ---------------------------------------------------------

    def save_profile(
        self, user_id: str, *, name: str, username: str, description: str, links: list[str], avatar_url: str | None
    ) -> ProfileWritten:
        """Create or replace the user's profile; ``UsernameTakenError`` when another user holds ``username``."""
        profile = self._get(profile_id_for(user_id), StoreProfile)
        if profile is None:
            profile = StoreProfile.create(user_id)
        claims: list[StoreUsername] = []
        if username != profile.username:
            claim = self._get(username_id_for(username), StoreUsername)
            if claim is None:
                claim = StoreUsername.claim(username, user_id)
            else:
                claim.reclaim(user_id)
            claims.append(claim)
            previous = self._get(username_id_for(profile.username), StoreUsername) if profile.username else None
            if previous is not None and previous.holder == user_id:
                previous.release()
                claims.append(previous)
        profile.save(name, username, description, links, avatar_url)
        try:
            recordings = self.save(profile, *claims)
        except IntegrityError:  # another user claimed the name (or saved this profile) at the same moment
            raise UsernameTakenError("Username is already taken") from None
        # the profile's own position: a token names the partition of the aggregate it names (the claims' differ)
        own = [r for r in recordings if r.domain_event.originator_id == profile.id]
        return ProfileWritten(
            profile.id,
            position_of(own),
            user_id=user_id,
            name=profile.name,
            username=profile.username,
            description=profile.description,
            links=list(profile.links),
            avatar_url=profile.avatar_url,
        )

    # -- submissions ------------------------------------------------------

    def submit(
        self, user_id: str, graph_id: str, graph_version: int, slug: str, details: dict[str, Any]
    ) -> ListingWritten:
        """Submit one of the user's graph versions (checked by the caller) for review: a new PENDING version.

        The graph's listing is created by its first submission; a graph
        someone else listed reads as not found (graph ids are never shared).
        """
        listing = self._get(listing_id_for(graph_id), StoreListing)
        if listing is None:
            listing = StoreListing.create(user_id, graph_id, slug)
        elif listing.owner_user_id != user_id:
            raise StoreListingNotFoundError(f"Graph {graph_id} not found")
        version_id = listing.submit(graph_version, details)
        try:
            recordings = self.save(listing)
        except IntegrityError:  # the same graph's first submission, twice at once: the second adds a version
            listing = self._owned(user_id, listing.id)
            version_id = listing.submit(graph_version, details)
            recordings = self.save(listing)
        return _listing_written(listing, version_id, recordings)

    def withdraw(self, user_id: str, listing_id: str, store_listing_version_id: str) -> ListingWritten:
        """Withdraw one of the user's listing versions (404 for someone else's or an unknown one)."""
        listing = self._owned(user_id, _uuid(listing_id))
        listing.withdraw(store_listing_version_id)
        return _listing_written(listing, store_listing_version_id, self.save(listing))

    # -- admin review -----------------------------------------------------

    def review_submission(
        self,
        reviewer_id: str,
        listing_id: str,
        store_listing_version_id: str,
        *,
        approved: bool,
        comments: str,
        internal_comments: str | None,
    ) -> ListingWritten:
        """An admin approves or rejects a PENDING version (records ``StoreListing.VersionReviewed``)."""
        listing = self._get(_uuid(listing_id), StoreListing)
        if listing is None:
            raise StoreListingNotFoundError(f"Store listing version {store_listing_version_id} not found")
        listing.review(
            store_listing_version_id,
            approved=approved,
            reviewer_id=reviewer_id,
            review_comments=comments,
            internal_comments=internal_comments,
        )
        return _listing_written(listing, store_listing_version_id, self.save(listing))

    # -- user reviews -----------------------------------------------------

    def review_agent(
        self, user_id: str, listing_id: str, store_listing_version_id: str, score: int, comments: str | None
    ) -> ReviewWritten:
        """Rate an APPROVED version of a listing (an upsert: one review per user per version)."""
        listing = self._get(_uuid(listing_id), StoreListing)
        version = listing.versions.get(store_listing_version_id) if listing is not None else None
        if version is None or version["status"] != SubmissionStatus.APPROVED.value:
            raise StoreListingNotFoundError(f"Store listing version {store_listing_version_id} not found")
        review = self._get(review_id_for(store_listing_version_id, user_id), StoreReview)
        if review is None:
            review = StoreReview.create(listing_id, store_listing_version_id, user_id, score, comments)
        else:
            review.revise(score, comments)
        try:
            recordings = self.save(review)
        except IntegrityError:  # a first review twice at once: the later one revises the earlier
            review = self.repository.get(review.id)
            review.revise(score, comments)
            recordings = self.save(review)
        return ReviewWritten(review.id, position_of(recordings), score=review.score, comments=review.comments)

    # -- helpers ----------------------------------------------------------

    def _get(self, aggregate_id: UUID, kind: type[Any]) -> Any:
        try:
            found: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _owned(self, user_id: str, listing_id: UUID) -> StoreListing:
        listing: StoreListing | None = self._get(listing_id, StoreListing)
        if listing is None or listing.owner_user_id != user_id:
            raise StoreListingNotFoundError("Submission not found")
        return listing


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise StoreListingNotFoundError("Submission not found") from None


def _listing_written(listing: StoreListing, version_id: str, recordings: list[Any]) -> ListingWritten:
    return ListingWritten(
        listing.id,
        position_of(recordings),
        listing_id=str(listing.id),
        owner_user_id=listing.owner_user_id,
        graph_id=listing.graph_id,
        slug=listing.slug,
        store_listing_version_id=version_id,
        version=dict(listing.versions.get(version_id, {})),
    )
