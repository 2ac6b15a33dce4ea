"""Store reviews: a user's rating of a listed agent version (AutoGPT's ``StoreListingReview``).

One ``StoreReview`` per (listing version, user): its id is derived from both,
so a second review by the same user is the same aggregate and replaces the
score and comments (AutoGPT's upsert), and two at once cannot make two.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from eventsourcing.domain import Aggregate, event

REVIEW_NAMESPACE = uuid.UUID("9e3c1f2a-6b8d-4e0f-a1c2-7d5b3e9f0a44")
MIN_SCORE, MAX_SCORE = 1, 5


def review_id_for(store_listing_version_id: str, user_id: str) -> uuid.UUID:
    """The id of ``user_id``'s review of the listing version."""
    return uuid.uuid5(REVIEW_NAMESPACE, f"{store_listing_version_id}\n{user_id}")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class StoreReview(Aggregate):
    """One user's score (1-5) and comments on one listing version."""

    class Created(Aggregate.Created):
        """The user's first review of the version."""

        listing_id: str
        store_listing_version_id: str
        user_id: str
        score: int
        comments: str | None
        reviewed_at: str

    @event(Created)
    def __init__(
        self,
        listing_id: str,
        store_listing_version_id: str,
        user_id: str,
        score: int,
        comments: str | None,
        reviewed_at: str,
    ) -> None:
        self.listing_id = listing_id
        self.store_listing_version_id = store_listing_version_id
        self.user_id = user_id
        self.score = score
        self.comments = comments
        self.reviewed_at = reviewed_at

    @classmethod
    def create(
        cls, listing_id: str, store_listing_version_id: str, user_id: str, score: int, comments: str | None
    ) -> StoreReview:
        """A first review by ``user_id``."""
        return cls._create(
            cls.Created,
            id=review_id_for(store_listing_version_id, user_id),
            listing_id=listing_id,
            store_listing_version_id=store_listing_version_id,
            user_id=user_id,
            score=score,
            comments=comments,
            reviewed_at=_now(),
        )

    def revise(self, score: int, comments: str | None) -> None:
        """Replace the score and comments (the upsert's second half)."""
        self._revised(score=score, comments=comments, reviewed_at=_now())

    class Revised(Aggregate.Event):
        """The user reviewed the version again: the new score and comments replace the old."""

        score: int
        comments: str | None
        reviewed_at: str

    @event(Revised)
    def _revised(self, score: int, comments: str | None, reviewed_at: str) -> None:
        self.score = score
        self.comments = comments
        self.reviewed_at = reviewed_at
