"""The store read-model tables: ``read.store_profiles``, ``store_listings``, ``store_listing_versions``,
``store_reviews``, ``store_graph_runs`` and ``store_generation``."""

from __future__ import annotations

from projections.schema import Column, Table

STORE_PROFILES = Table(
    name="store_profiles",
    comment="One row per creator profile (AutoGPT's Profile): public once the creator has an approved listing.",
    columns=(
        Column("user_id", "text", "The profile's user (JWT sub)."),
        Column("profile_id", "text", "Profile aggregate id (UUID derived from the user id)."),
        Column("name", "text", "Display name."),
        Column("username", "text", "Unique handle, lower-case: the {username} of the store's URLs."),
        Column("description", "text", "About the creator."),
        Column("links", "json", 'Links the creator shows, e.g. ["https://example.com"].'),
        Column("avatar_url", "text", "Avatar image URL, if any."),
        Column("is_featured", "bool", "Featured creator (no route sets it yet: always false)."),
        Column("updated_at", "timestamp", "When the profile was last saved."),
    ),
    primary_key=("user_id",),
    indexes=(("username",),),
)

STORE_LISTINGS = Table(
    name="store_listings",
    comment="One row per store listing (one per graph): owner, slug, and the approved version the store shows.",
    columns=(
        Column("listing_id", "text", "Listing aggregate id (UUID derived from the graph id)."),
        Column("owner_user_id", "text", "The creator (owner of the graph)."),
        Column("graph_id", "text", "The listed graph."),
        Column("slug", "text", "URL name of the agent, unique per owner: the {slug} of the store's URLs."),
        Column("active_version_id", "text", "The approved version the store shows (null: not in the store)."),
        Column("has_approved_version", "bool", "True while some live version is APPROVED."),
        Column("created_at", "timestamp", "When the first submission created the listing."),
        Column("updated_at", "timestamp", "When a version of the listing was last submitted, reviewed or withdrawn."),
    ),
    primary_key=("listing_id",),
    indexes=(("owner_user_id", "slug"), ("graph_id",)),
)

STORE_LISTING_VERSIONS = Table(
    name="store_listing_versions",
    comment="One row per live submitted version of a listing (withdrawn ones are removed), with its review.",
    columns=(
        Column("store_listing_version_id", "text", "Listing version id (UUID)."),
        Column("listing_id", "text", "The listing it belongs to."),
        Column("owner_user_id", "text", "The creator (owner of the graph)."),
        Column("version", "int", "Version number within the listing (1, 2 ...)."),
        Column("graph_id", "text", "The listed graph."),
        Column("graph_version", "int", "The graph version submitted."),
        Column("name", "text", "Agent name shown in the store."),
        Column("sub_heading", "text", "One-line pitch."),
        Column("description", "text", "Description."),
        Column("instructions", "text", "How to use the agent, if given."),
        Column("image_urls", "json", "Image URLs (the first is the card's image)."),
        Column("video_url", "text", "Video URL, if any."),
        Column("agent_output_demo_url", "text", "Output demo URL, if any."),
        Column("categories", "json", 'Categories, e.g. ["productivity"].'),
        Column("category_keys", "text", "The categories lower-cased, each between newlines (the category filter)."),
        Column("changes_summary", "text", "What changed in this version, if given."),
        Column("recommended_schedule_cron", "text", "Cron schedule the creator recommends, if any."),
        Column("is_featured", "bool", "Featured by the store (no route sets it yet: always false)."),
        Column("status", "text", "PENDING, APPROVED or REJECTED (DRAFT: never made by a route)."),
        Column("submitted_at", "timestamp", "When it was submitted."),
        Column("reviewed_at", "timestamp", "When an admin reviewed it, if one did."),
        Column("reviewer_id", "text", "The reviewing admin's user id."),
        Column("review_comments", "text", "The admin's comments to the creator."),
        Column("internal_comments", "text", "The admin's internal comments (shown to no creator)."),
    ),
    primary_key=("store_listing_version_id",),
    indexes=(("listing_id",), ("owner_user_id",)),
)

STORE_REVIEWS = Table(
    name="store_reviews",
    comment="One row per (listing version, user): the user's latest score 1-5 and comments (an upsert).",
    columns=(
        Column("store_listing_version_id", "text", "The reviewed listing version."),
        Column("user_id", "text", "The reviewer."),
        Column("review_id", "text", "Review aggregate id (UUID derived from the version and the user)."),
        Column("listing_id", "text", "The listing of the version."),
        Column("score", "int", "Score 1-5."),
        Column("comments", "text", "Comments, if any."),
        Column("reviewed_at", "timestamp", "When the latest score was given."),
    ),
    primary_key=("store_listing_version_id", "user_id"),
    indexes=(("listing_id",), ("review_id",)),
)

STORE_GRAPH_RUNS = Table(
    name="store_graph_runs",
    comment=(
        "Top-level runs per (graph, user) from the executions log: a listing's run count is the sum over users "
        "other than its creator (kept for every graph, so it does not depend on which log is applied first)."
    ),
    columns=(
        Column("graph_id", "text", "The graph run."),
        Column("user_id", "text", "Who requested the runs."),
        Column("runs", "int", "Runs requested (sub-agent runs are not counted)."),
    ),
    primary_key=("graph_id", "user_id"),
)

STORE_DELETED_GRAPHS = Table(
    name="store_deleted_graphs",
    comment="Graphs deleted (from the graphs log): their listings leave the store, whatever their status.",
    columns=(Column("graph_id", "text", "The deleted graph."),),
    primary_key=("graph_id",),
)

STORE_GENERATION = Table(
    name="store_generation",
    comment=(
        "One row: how many changes (store events, counted runs, graph deletions) the read model applied. "
        "Cached answers (Redis) are keyed by it, so a cached answer never outlives the commit that changed the store."
    ),
    columns=(
        Column("scope", "text", "Always 'store'."),
        Column(
            "generation",
            "int",
            "Store events, top-level runs and graph deletions applied so far (moves with every change).",
        ),
    ),
    primary_key=("scope",),
)

TABLES = (
    STORE_PROFILES,
    STORE_LISTINGS,
    STORE_LISTING_VERSIONS,
    STORE_REVIEWS,
    STORE_GRAPH_RUNS,
    STORE_DELETED_GRAPHS,
    STORE_GENERATION,
)
