"""Store queries: AutoGPT's store shapes (``StoreAgent``, ``StoreAgentDetails``, ``Creator`` ...) from ``read.store_*``.

What the store shows is the active (approved) version of each listing; a
creator is public once one of their listings is in the store (a profile of
someone with nothing published is seen by its owner only). A listing's
``runs`` counts top-level runs of its graph by users other than its creator;
its ``rating`` is the average score of the reviews of its live versions
(0 without reviews).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from projections.executions.models import Pagination
from projections.store import ReadModelTx, ReadSource, iso, json_value

PROJECTION = "store_listings"
"""The projection these queries read (``projections.store_listings.projection``)."""

NEEDS_PROFILE = "Needs Profile"
"""AutoGPT's creator name for a listing whose owner has no profile."""


class StoreAgent(BaseModel):
    """A card of the store's listing (AutoGPT's ``StoreAgent``)."""

    slug: str
    agent_name: str
    agent_image: str
    creator: str
    creator_avatar: str
    sub_heading: str
    description: str
    runs: int
    rating: float
    agent_graph_id: str


class StoreAgentsResponse(BaseModel):
    """A page of the store (AutoGPT's ``StoreAgentsResponse``)."""

    agents: list[StoreAgent]
    pagination: Pagination


class ChangelogEntry(BaseModel):
    """One version of a listing in its changelog."""

    version: str
    changes_summary: str
    date: str


class StoreAgentDetails(BaseModel):
    """One listed agent (AutoGPT's ``StoreAgentDetails``)."""

    store_listing_version_id: str
    slug: str
    agent_name: str
    agent_video: str
    agent_output_demo: str
    agent_image: list[str]
    creator: str
    creator_avatar: str
    sub_heading: str
    description: str
    instructions: str | None
    categories: list[str]
    runs: int
    rating: float
    versions: list[str]
    agentGraphVersions: list[str]  # noqa: N815 (AutoGPT's field name)
    agentGraphId: str  # noqa: N815 (AutoGPT's field name)
    last_updated: str
    recommended_schedule_cron: str | None
    active_version_id: str | None
    has_approved_version: bool
    changelog: list[ChangelogEntry] | None


class Creator(BaseModel):
    """A creator card (AutoGPT's ``Creator``)."""

    name: str
    username: str
    description: str
    avatar_url: str
    num_agents: int
    agent_rating: float
    agent_runs: int
    is_featured: bool


class CreatorsResponse(BaseModel):
    """A page of creators (AutoGPT's ``CreatorsResponse``)."""

    creators: list[Creator]
    pagination: Pagination


class CreatorDetails(BaseModel):
    """One creator (AutoGPT's ``CreatorDetails``)."""

    name: str
    username: str
    description: str
    links: list[str]
    avatar_url: str
    agent_rating: float
    agent_runs: int
    top_categories: list[str]


class ProfileDetails(BaseModel):
    """The caller's own profile (AutoGPT's ``ProfileDetails``)."""

    name: str
    username: str
    description: str
    links: list[str]
    avatar_url: str | None = None


class StoreSubmission(BaseModel):
    """One of the caller's submitted versions (AutoGPT's ``StoreSubmission``, mid-2025 shape)."""

    listing_id: str
    agent_id: str
    agent_version: int
    name: str
    sub_heading: str
    slug: str
    description: str
    instructions: str | None
    image_urls: list[str]
    date_submitted: str
    status: str
    runs: int
    rating: float
    store_listing_version_id: str
    version: int
    reviewer_id: str | None
    review_comments: str | None
    internal_comments: str | None = None
    """Shown to admins only (always null in a creator's answers)."""
    reviewed_at: str | None
    changes_summary: str | None
    video_url: str | None
    agent_output_demo_url: str | None
    categories: list[str]


class StoreSubmissionsResponse(BaseModel):
    """A page of the caller's submissions."""

    submissions: list[StoreSubmission]
    pagination: Pagination


class MyAgent(BaseModel):
    """One of the caller's graphs not yet listed (AutoGPT's ``MyAgent``)."""

    agent_id: str
    agent_version: int
    agent_name: str
    agent_image: str | None
    description: str
    last_edited: str
    recommended_schedule_cron: str | None


class MyAgentsResponse(BaseModel):
    """A page of the caller's graphs not yet listed."""

    agents: list[MyAgent]
    pagination: Pagination


class StoreListingWithVersions(BaseModel):
    """A listing with all its live versions, as admins see it (AutoGPT's ``StoreListingWithVersions``)."""

    listing_id: str
    slug: str
    agent_id: str
    agent_version: int
    active_version_id: str | None
    has_approved_version: bool
    creator_email: str | None
    """Not known here (users' e-mails are not stored): always null."""
    latest_version: StoreSubmission | None
    versions: list[StoreSubmission]


class StoreListingsWithVersionsResponse(BaseModel):
    """A page of listings for admins."""

    listings: list[StoreListingWithVersions]
    pagination: Pagination


class ApprovedVersion(BaseModel):
    """An approved listing version, as adding it to a library needs it."""

    store_listing_version_id: str
    listing_id: str
    graph_id: str
    graph_version: int
    owner_user_id: str
    """The creator (owner of the graph)."""
    agent_name: str
    description: str
    image_url: str | None
    """The first image, if any."""
    creator_name: str
    creator_avatar: str | None


class ListingRef(BaseModel):
    """Which listing a version belongs to, and whose it is (what a command needs to find its aggregate)."""

    listing_id: str
    owner_user_id: str
    slug: str


def pagination(total: int, page: int, page_size: int) -> Pagination:
    """AutoGPT's page facts."""
    return Pagination(
        total_items=total, total_pages=max(1, -(-total // page_size)), current_page=page, page_size=page_size
    )


def _like(text: str) -> str:
    """A case-insensitive substring pattern for ``text`` (``\\`` escapes LIKE's wildcards)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _runs_sql(tx: ReadModelTx) -> str:
    return (
        f"(SELECT COALESCE(SUM(r.runs), 0) FROM {tx.t('store_graph_runs')} r "
        "WHERE r.graph_id = l.graph_id AND r.user_id <> l.owner_user_id)"
    )


def _rating_sql(tx: ReadModelTx) -> str:
    return (
        f"(SELECT COALESCE(AVG(rv.score * 1.0), 0) FROM {tx.t('store_reviews')} rv "
        f"JOIN {tx.t('store_listing_versions')} lv ON lv.store_listing_version_id = rv.store_listing_version_id "
        "WHERE lv.listing_id = l.listing_id)"
    )


def _store_from(tx: ReadModelTx) -> str:
    """The listings in the store with their active version ``v`` and their creator's profile ``p``.

    A listing whose graph was deleted leaves the store.
    """
    return (
        f"FROM {tx.t('store_listings')} l "
        f"JOIN {tx.t('store_listing_versions')} v ON v.store_listing_version_id = l.active_version_id "
        f"LEFT JOIN {tx.t('store_profiles')} p ON p.user_id = l.owner_user_id "
        f"WHERE NOT EXISTS (SELECT 1 FROM {tx.t('store_deleted_graphs')} d WHERE d.graph_id = l.graph_id) "
    )


_AGENT_ORDER = {"rating": "rating DESC, ", "runs": "runs DESC, ", "name": "v.name ASC, "}


class StoreQueries:
    """Reads of ``read.store_*``: the public store, and each user's own profile and submissions."""

    def __init__(self, store: ReadSource) -> None:
        self._store = store

    # -- the store's cache key ------------------------------------------------------

    def generation(self) -> int:
        """How many store events the read model applied (``store_generation``): cached answers are keyed by it."""
        with self._store.transaction() as tx:
            row = tx.fetchone(f"SELECT generation FROM {tx.t('store_generation')} WHERE scope = 'store'")
        return int(row["generation"]) if row else 0

    # -- listings -------------------------------------------------------------------

    def list_agents(
        self,
        *,
        featured: bool,
        creator: str | None,
        search_query: str | None,
        category: str | None,
        sorted_by: str | None,
        page: int,
        page_size: int,
    ) -> StoreAgentsResponse:
        """One page of the store (AutoGPT's filters; ``sorted_by`` rating | runs | name, else oldest first)."""
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {}
        if featured:
            where.append("v.is_featured = :featured")
            params["featured"] = True
        if creator:
            where.append("p.username = :creator")
            params["creator"] = creator.lower()
        if search_query:
            where.append("(LOWER(v.name) LIKE :q ESCAPE '\\' OR LOWER(v.description) LIKE :q ESCAPE '\\')")
            params["q"] = _like(search_query)
        if category:
            where.append("v.category_keys LIKE :category ESCAPE '\\'")
            params["category"] = _like(f"\n{category}\n")
        order = _AGENT_ORDER.get(sorted_by or "", "")
        with self._store.transaction() as tx:
            base = _store_from(tx) + "AND " + " AND ".join(where)
            total = tx.fetchone(f"SELECT COUNT(*) AS n {base}", params)
            rows = tx.fetchall(
                f"SELECT l.slug, l.graph_id, v.name, v.image_urls, v.sub_heading, v.description, p.username, "
                f"p.avatar_url, {_runs_sql(tx)} AS runs, {_rating_sql(tx)} AS rating {base} "
                f"ORDER BY {order}l.created_at, l.listing_id LIMIT {page_size} OFFSET {(page - 1) * page_size}",
                params,
            )
        agents = [
            StoreAgent(
                slug=row["slug"],
                agent_name=row["name"],
                agent_image=(json_value(row["image_urls"]) or [""])[0],
                creator=row["username"] or NEEDS_PROFILE,
                creator_avatar=row["avatar_url"] or "",
                sub_heading=row["sub_heading"] or "",
                description=row["description"] or "",
                runs=int(row["runs"]),
                rating=float(row["rating"]),
                agent_graph_id=row["graph_id"],
            )
            for row in rows
        ]
        return StoreAgentsResponse(
            agents=agents, pagination=pagination(int(total["n"]) if total else 0, page, page_size)
        )

    def agent_details(self, username: str, slug: str) -> StoreAgentDetails | None:
        """The listed agent ``username``/``slug`` (both lower-cased by the caller), None if not in the store."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT l.*, v.*, p.username, p.avatar_url, {_runs_sql(tx)} AS runs, {_rating_sql(tx)} AS rating "
                + _store_from(tx)
                + "AND p.username = :username AND l.slug = :slug",
                {"username": username, "slug": slug},
            )
            if row is None:
                return None
            versions = tx.fetchall(
                f"SELECT version, graph_version, changes_summary, submitted_at FROM {tx.t('store_listing_versions')} "
                "WHERE listing_id = :listing_id AND status = 'APPROVED' ORDER BY version",
                {"listing_id": row["listing_id"]},
            )
        return StoreAgentDetails(
            store_listing_version_id=row["active_version_id"],
            slug=row["slug"],
            agent_name=row["name"],
            agent_video=row["video_url"] or "",
            agent_output_demo=row["agent_output_demo_url"] or "",
            agent_image=list(json_value(row["image_urls"]) or []),
            creator=row["username"],
            creator_avatar=row["avatar_url"] or "",
            sub_heading=row["sub_heading"] or "",
            description=row["description"] or "",
            instructions=row["instructions"],
            categories=list(json_value(row["categories"]) or []),
            runs=int(row["runs"]),
            rating=float(row["rating"]),
            versions=[str(v["version"]) for v in versions],
            agentGraphVersions=[str(v["graph_version"]) for v in versions],
            agentGraphId=row["graph_id"],
            last_updated=iso(row["updated_at"]) or "",
            recommended_schedule_cron=row["recommended_schedule_cron"],
            active_version_id=row["active_version_id"],
            has_approved_version=bool(row["has_approved_version"]),
            changelog=[
                ChangelogEntry(
                    version=str(v["version"]),
                    changes_summary=v["changes_summary"] or "",
                    date=iso(v["submitted_at"]) or "",
                )
                for v in versions
            ]
            or None,
        )

    def approved_version(self, store_listing_version_id: str) -> ApprovedVersion | None:
        """An APPROVED live version by id (for ``POST /api/library/agents``); None if unknown or not approved."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT v.*, p.name AS creator_name, p.username, p.avatar_url "
                f"FROM {tx.t('store_listing_versions')} v "
                f"LEFT JOIN {tx.t('store_profiles')} p ON p.user_id = v.owner_user_id "
                "WHERE v.store_listing_version_id = :id AND v.status = 'APPROVED' AND NOT EXISTS "
                f"(SELECT 1 FROM {tx.t('store_deleted_graphs')} d WHERE d.graph_id = v.graph_id)",
                {"id": store_listing_version_id},
            )
        if row is None:
            return None
        images = list(json_value(row["image_urls"]) or [])
        return ApprovedVersion(
            store_listing_version_id=row["store_listing_version_id"],
            listing_id=row["listing_id"],
            graph_id=row["graph_id"],
            graph_version=int(row["graph_version"]),
            owner_user_id=row["owner_user_id"],
            agent_name=row["name"],
            description=row["description"] or "",
            image_url=images[0] if images else None,
            creator_name=row["creator_name"] or row["username"] or NEEDS_PROFILE,
            creator_avatar=row["avatar_url"],
        )

    # -- creators -------------------------------------------------------------------

    def list_creators(
        self, *, featured: bool, search_query: str | None, sorted_by: str | None, page: int, page_size: int
    ) -> CreatorsResponse:
        """Creators with at least one listing in the store (``sorted_by`` agent_rating | agent_runs | num_agents)."""
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {}
        if featured:
            where.append("c.is_featured = :featured")
            params["featured"] = True
        if search_query:
            where.append(
                "(LOWER(c.name) LIKE :q ESCAPE '\\' OR LOWER(c.username) LIKE :q ESCAPE '\\' "
                "OR LOWER(c.description) LIKE :q ESCAPE '\\')"
            )
            params["q"] = _like(search_query)
        order = {"agent_rating": "agent_rating DESC, ", "agent_runs": "agent_runs DESC, "}.get(
            sorted_by or "", "num_agents DESC, " if sorted_by == "num_agents" else ""
        )
        with self._store.transaction() as tx:
            creators = self._creators_sql(tx)
            base = f"FROM ({creators}) c WHERE " + " AND ".join(where)
            total = tx.fetchone(f"SELECT COUNT(*) AS n {base}", params)
            rows = tx.fetchall(
                f"SELECT c.* {base} ORDER BY {order}c.username LIMIT {page_size} OFFSET {(page - 1) * page_size}",
                params,
            )
        return CreatorsResponse(
            creators=[
                Creator(
                    name=row["name"] or "",
                    username=row["username"],
                    description=row["description"] or "",
                    avatar_url=row["avatar_url"] or "",
                    num_agents=int(row["num_agents"]),
                    agent_rating=float(row["agent_rating"]),
                    agent_runs=int(row["agent_runs"]),
                    is_featured=bool(row["is_featured"]),
                )
                for row in rows
            ],
            pagination=pagination(int(total["n"]) if total else 0, page, page_size),
        )

    def creator(self, username: str) -> CreatorDetails | None:
        """One creator with a listing in the store, by username (lower-cased by the caller)."""
        with self._store.transaction() as tx:
            row = tx.fetchone(f"SELECT c.* FROM ({self._creators_sql(tx)}) c WHERE c.username = :u", {"u": username})
            if row is None:
                return None
            links = tx.fetchone(
                f"SELECT links FROM {tx.t('store_profiles')} WHERE user_id = :id", {"id": row["user_id"]}
            )
            categories = tx.fetchall(
                f"SELECT v.categories {_store_from(tx)} AND l.owner_user_id = :id", {"id": row["user_id"]}
            )
        counts: dict[str, int] = {}
        for found in categories:
            for category in json_value(found["categories"]) or []:
                counts[str(category)] = counts.get(str(category), 0) + 1
        top = sorted(counts, key=lambda c: (-counts[c], c))[:5]
        return CreatorDetails(
            name=row["name"] or "",
            username=row["username"],
            description=row["description"] or "",
            links=list(json_value(links["links"]) or []) if links else [],
            avatar_url=row["avatar_url"] or "",
            agent_rating=float(row["agent_rating"]),
            agent_runs=int(row["agent_runs"]),
            top_categories=top,
        )

    @staticmethod
    def _creators_sql(tx: ReadModelTx) -> str:
        """One row per profile with a listing in the store: its counts, runs and average rating."""
        listed = (
            "SELECT p.user_id, p.name, p.username, p.description, p.avatar_url, p.is_featured, "
            f"{_runs_sql(tx)} AS runs " + _store_from(tx) + "AND p.username <> ''"
        )
        columns = "s.user_id, s.name, s.username, s.description, s.avatar_url, s.is_featured"
        return (
            f"SELECT {columns}, COUNT(*) AS num_agents, SUM(s.runs) AS agent_runs, "
            f"(SELECT COALESCE(AVG(rv.score * 1.0), 0) FROM {tx.t('store_reviews')} rv "
            f"JOIN {tx.t('store_listing_versions')} lv ON lv.store_listing_version_id = rv.store_listing_version_id "
            f"WHERE lv.owner_user_id = s.user_id) AS agent_rating FROM ({listed}) s GROUP BY {columns}"
        )

    # -- the caller's own -------------------------------------------------------------

    def profile(self, user_id: str) -> ProfileDetails | None:
        """The caller's profile, None before its first save."""
        with self._store.transaction() as tx:
            row = tx.fetchone(f"SELECT * FROM {tx.t('store_profiles')} WHERE user_id = :id", {"id": user_id})
        if row is None:
            return None
        return ProfileDetails(
            name=row["name"],
            username=row["username"],
            description=row["description"],
            links=list(json_value(row["links"]) or []),
            avatar_url=row["avatar_url"],
        )

    def submissions(self, user_id: str, page: int, page_size: int) -> StoreSubmissionsResponse:
        """The caller's live submitted versions, newest first."""
        with self._store.transaction() as tx:
            total = tx.fetchone(
                f"SELECT COUNT(*) AS n FROM {tx.t('store_listing_versions')} WHERE owner_user_id = :id", {"id": user_id}
            )
            rows = tx.fetchall(
                f"SELECT v.*, l.slug, {_runs_sql(tx)} AS runs, {_rating_sql(tx)} AS rating "
                f"FROM {tx.t('store_listing_versions')} v JOIN {tx.t('store_listings')} l "
                "ON l.listing_id = v.listing_id WHERE v.owner_user_id = :id "
                f"ORDER BY v.submitted_at DESC, v.store_listing_version_id LIMIT {page_size} "
                f"OFFSET {(page - 1) * page_size}",
                {"id": user_id},
            )
        return StoreSubmissionsResponse(
            submissions=[submission(row, runs=int(row["runs"]), rating=float(row["rating"])) for row in rows],
            pagination=pagination(int(total["n"]) if total else 0, page, page_size),
        )

    def my_agents(self, user_id: str, page: int, page_size: int) -> MyAgentsResponse:
        """The caller's graphs (not deleted) that have no listing yet, most recently edited first."""
        with self._store.transaction() as tx:
            base = (
                f"FROM {tx.t('graphs')} g JOIN {tx.t('graph_versions')} gv ON gv.graph_id = g.graph_id "
                "AND gv.version = g.latest_version WHERE g.user_id = :id AND g.is_deleted = :no AND NOT EXISTS "
                f"(SELECT 1 FROM {tx.t('store_listing_versions')} v WHERE v.graph_id = g.graph_id)"
            )
            params = {"id": user_id, "no": False}
            total = tx.fetchone(f"SELECT COUNT(*) AS n {base}", params)
            rows = tx.fetchall(
                "SELECT g.graph_id, g.latest_version, gv.name, gv.description, gv.recommended_schedule_cron, "
                f"g.updated_at {base} ORDER BY g.updated_at DESC, g.graph_id LIMIT {page_size} "
                f"OFFSET {(page - 1) * page_size}",
                params,
            )
        return MyAgentsResponse(
            agents=[
                MyAgent(
                    agent_id=row["graph_id"],
                    agent_version=int(row["latest_version"]),
                    agent_name=row["name"] or "",
                    agent_image=None,
                    description=row["description"] or "",
                    last_edited=iso(row["updated_at"]) or "",
                    recommended_schedule_cron=row["recommended_schedule_cron"],
                )
                for row in rows
            ],
            pagination=pagination(int(total["n"]) if total else 0, page, page_size),
        )

    # -- admins -------------------------------------------------------------------------

    def admin_listings(
        self, *, status: str | None, search: str | None, page: int, page_size: int
    ) -> StoreListingsWithVersionsResponse:
        """Listings with a live version (of ``status``, if given; matching ``search``), last changed first."""
        where: list[str] = []
        params: dict[str, Any] = {}
        if status:
            where.append("v.status = :status")
            params["status"] = status
        if search:
            where.append(
                "(LOWER(v.name) LIKE :q ESCAPE '\\' OR LOWER(v.description) LIKE :q ESCAPE '\\' "
                "OR LOWER(l.slug) LIKE :q ESCAPE '\\')"
            )
            params["q"] = _like(search)
        with self._store.transaction() as tx:
            matching = f"SELECT 1 FROM {tx.t('store_listing_versions')} v WHERE v.listing_id = l.listing_id" + "".join(
                f" AND {condition}" for condition in where
            )
            base = f"FROM {tx.t('store_listings')} l WHERE EXISTS ({matching})"
            total = tx.fetchone(f"SELECT COUNT(*) AS n {base}", params)
            listings = tx.fetchall(
                f"SELECT l.* {base} ORDER BY l.updated_at DESC, l.listing_id LIMIT {page_size} "
                f"OFFSET {(page - 1) * page_size}",
                params,
            )
            ids = {row["listing_id"]: i for i, row in enumerate(listings)}
            versions: list[list[StoreSubmission]] = [[] for _ in listings]
            for listing_id in ids:
                for row in tx.fetchall(
                    f"SELECT v.*, l.slug FROM {tx.t('store_listing_versions')} v JOIN {tx.t('store_listings')} l "
                    "ON l.listing_id = v.listing_id WHERE v.listing_id = :id ORDER BY v.version",
                    {"id": listing_id},
                ):
                    found = submission(row).model_copy(update={"internal_comments": row["internal_comments"]})
                    versions[ids[listing_id]].append(found)
        return StoreListingsWithVersionsResponse(
            listings=[
                StoreListingWithVersions(
                    listing_id=row["listing_id"],
                    slug=row["slug"],
                    agent_id=row["graph_id"],
                    agent_version=versions[i][-1].agent_version,
                    active_version_id=row["active_version_id"],
                    has_approved_version=bool(row["has_approved_version"]),
                    creator_email=None,
                    latest_version=versions[i][-1],
                    versions=versions[i],
                )
                for i, row in enumerate(listings)
            ],
            pagination=pagination(int(total["n"]) if total else 0, page, page_size),
        )

    # -- what commands look up ----------------------------------------------------------

    def listing_of_version(self, store_listing_version_id: str) -> ListingRef | None:
        """The listing a live version belongs to (None if unknown or withdrawn)."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT l.listing_id, l.owner_user_id, l.slug FROM {tx.t('store_listing_versions')} v "
                f"JOIN {tx.t('store_listings')} l ON l.listing_id = v.listing_id "
                "WHERE v.store_listing_version_id = :id",
                {"id": store_listing_version_id},
            )
        return ListingRef(**row) if row else None

    def listing_in_store(self, username: str, slug: str) -> ListingRef | None:
        """The listing ``username``/``slug`` if it is in the store (has an approved active version)."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                "SELECT l.listing_id, l.owner_user_id, l.slug "
                + _store_from(tx)
                + "AND p.username = :username AND l.slug = :slug",
                {"username": username, "slug": slug},
            )
        return ListingRef(**row) if row else None

    def slug_taken(self, user_id: str, slug: str, graph_id: str) -> bool:
        """True when the user's listing of another graph already has ``slug``."""
        with self._store.transaction() as tx:
            row = tx.fetchone(
                f"SELECT 1 AS taken FROM {tx.t('store_listings')} WHERE owner_user_id = :id AND slug = :slug "
                "AND graph_id <> :graph_id",
                {"id": user_id, "slug": slug, "graph_id": graph_id},
            )
        return row is not None


def submission(row: dict[str, Any], *, runs: int = 0, rating: float = 0.0) -> StoreSubmission:
    """The one builder of ``StoreSubmission``: from a read-model row, or from what a command returned."""
    return StoreSubmission(
        listing_id=row["listing_id"],
        agent_id=row["graph_id"],
        agent_version=int(row["graph_version"]),
        name=row.get("name") or "",
        sub_heading=row.get("sub_heading") or "",
        slug=row["slug"],
        description=row.get("description") or "",
        instructions=row.get("instructions"),
        image_urls=list(json_value(row.get("image_urls")) or []),
        date_submitted=iso(row.get("submitted_at")) or "",
        status=row["status"],
        runs=runs,
        rating=rating,
        store_listing_version_id=row["store_listing_version_id"],
        version=int(row["version"]),
        reviewer_id=row.get("reviewer_id"),
        review_comments=row.get("review_comments"),
        reviewed_at=iso(row.get("reviewed_at")),
        changes_summary=row.get("changes_summary"),
        video_url=row.get("video_url"),
        agent_output_demo_url=row.get("agent_output_demo_url"),
        categories=list(json_value(row.get("categories")) or []),
    )
