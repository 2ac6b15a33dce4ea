"""``/api/store``: profiles, submissions, admin review, the store's listings and reviews (AutoGPT's routes and shapes).

Commands (POST/DELETE) and queries (GET) on separate routers; the admin's
review is on ``admin_commands`` (403 for non-admins). Another user's
submission, an unknown one and a withdrawn one all answer 404. Decisions:

- usernames and slugs are stored lower-case (the URLs are lower-cased, as AutoGPT's routes do);
- a username held by another user is 409 ``username_taken``; a slug the owner uses for another graph is 409;
- the admin's review answers once the store read model applied it (so the store, and its Redis cache,
  show the approval to anyone asking after the admin is told);
- commands that find a listing through the read model (review, withdraw, rate) honour a consistency token
  first, as queries do;
- ``page`` and ``page_size`` below 1 are AutoGPT's 422s; a ``page_size`` above 100 is 422 too.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api.auth import AdminUser, CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import (
    STALE_HEADER,
    GraphsConsistent,
    answer_with_token,
    consistent,
    decode_token,
    token_for,
    wait_for,
)
from api.errors import ErrorBody, RequestInvalidBody, responses
from application.store import ListingWritten
from domain.not_found import GraphNotFoundError
from domain.store_listing import StoreListingNotFoundError, SubmissionNotPendingError, SubmissionStatus
from domain.store_profile import UsernameTakenError
from domain.store_review import MAX_SCORE, MIN_SCORE
from projections.store_listings.queries import PROJECTION as STORE_PROJECTION
from projections.store_listings.queries import (
    CreatorDetails,
    CreatorsResponse,
    MyAgentsResponse,
    ProfileDetails,
    StoreAgentDetails,
    StoreAgentsResponse,
    StoreListingsWithVersionsResponse,
    StoreSubmission,
    StoreSubmissionsResponse,
    submission,
)


def store_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses(*statuses)`` with the 422 also in AutoGPT's plain form (``{"detail": "Page must be ..."}``)."""
    return {
        **responses(*statuses),
        422: {
            "model": RequestInvalidBody | ErrorBody,
            "description": "The request does not match the API schema, or AutoGPT's own 422 "
            '(``{"detail": "Page must be greater than 0"}`` ...)',
        },
    }


StoreConsistent = Depends(consistent(STORE_PROJECTION, frozenset({"store", "executions", "graphs"})))
"""A token of any log the store projection follows (a submission, a run, a graph's deletion) is waited for."""

commands = APIRouter(prefix="/api/store", tags=["store"], responses=store_responses(400, 401, 404, 409, 413, 422, 503))
admin_commands = APIRouter(
    prefix="/api/store/admin",
    tags=["store", "admin"],
    responses=store_responses(400, 401, 403, 404, 409, 413, 422, 503),
)
admin_queries = APIRouter(
    prefix="/api/store/admin",
    tags=["store", "admin"],
    responses=store_responses(400, 401, 403, 422, 503),
    dependencies=[StoreConsistent],
)
queries = APIRouter(
    prefix="/api/store",
    tags=["store"],
    responses=store_responses(400, 401, 404, 422, 503),
    dependencies=[StoreConsistent],
)

MAX_PAGE = 10_000
MAX_PAGE_SIZE = 100
HANDLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
Url = Annotated[str, Field(max_length=2000)]

Page = Annotated[int, Query(description="Page number (from 1)")]
PageSize = Annotated[int, Query(description=f"Items per page (1-{MAX_PAGE_SIZE})")]
NO_NUL = r"^[^\x00]*$"
"""Text a database keeps (PostgreSQL refuses NUL): anything else is 422."""
SearchText = Annotated[str | None, Query(max_length=100, pattern=NO_NUL)]
SortOrder = Annotated[str | None, Query(max_length=50, pattern=NO_NUL)]
Handle = Annotated[str, Path(max_length=200, pattern=NO_NUL)]
VersionId = Annotated[str, Path(max_length=64, pattern=NO_NUL, description="Store listing version id (UUID)")]


class StoreNotFound(HTTPException):
    """404 for a store resource the caller cannot see."""

    code = "store_not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


class StoreConflict(HTTPException):
    """409: the change conflicts with the store's state (a taken name, an already reviewed version)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(status_code=409, detail=detail)
        self.code = code


def _check_page(page: int, page_size: int) -> None:
    """AutoGPT's 422s for page and page size, and the upper bounds every input has here."""
    if page < 1:
        raise HTTPException(status_code=422, detail="Page must be greater than 0")
    if page_size < 1:
        raise HTTPException(status_code=422, detail="Page size must be greater than 0")
    if page > MAX_PAGE:
        raise HTTPException(status_code=422, detail=f"Page must be at most {MAX_PAGE}")
    if page_size > MAX_PAGE_SIZE:
        raise HTTPException(status_code=422, detail=f"Page size must be at most {MAX_PAGE_SIZE}")


# -- bodies -------------------------------------------------------------------------------------


class ProfileRequest(BaseModel):
    """Body of ``POST /api/store/profile`` (AutoGPT's ``Profile``; ``is_featured`` is the store's to set)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=100)
    username: str = Field(min_length=1, max_length=64, pattern=HANDLE_PATTERN)
    description: str = Field(default="", max_length=2000)
    links: list[Url] = Field(default_factory=list, max_length=10)
    avatar_url: Url | None = None


class SubmissionRequest(BaseModel):
    """Body of ``POST /api/store/submissions`` (AutoGPT's ``StoreSubmissionRequest``; newer names accepted)."""

    model_config = ConfigDict(extra="ignore")

    agent_id: str = Field(min_length=1, max_length=64, validation_alias=AliasChoices("agent_id", "graph_id"))
    agent_version: int = Field(gt=0, le=1_000_000, validation_alias=AliasChoices("agent_version", "graph_version"))
    slug: str = Field(min_length=1, max_length=100, pattern=HANDLE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    sub_heading: str = Field(default="", max_length=500)
    video_url: Url | None = None
    agent_output_demo_url: Url | None = None
    image_urls: list[Url] = Field(default_factory=list, max_length=20)
    description: str = Field(default="", max_length=20_000)
    instructions: str | None = Field(default=None, max_length=20_000)
    categories: list[Annotated[str, Field(min_length=1, max_length=50)]] = Field(default_factory=list, max_length=10)
    changes_summary: str | None = Field(default=None, max_length=2000)
    recommended_schedule_cron: str | None = Field(default=None, max_length=100)


class ReviewSubmissionRequest(BaseModel):
    """Body of the admin's review (AutoGPT's ``ReviewSubmissionRequest``)."""

    model_config = ConfigDict(extra="ignore")

    store_listing_version_id: str = Field(max_length=64)
    is_approved: bool
    comments: str = Field(max_length=5000)
    internal_comments: str | None = Field(default=None, max_length=5000)


class StoreReviewCreate(BaseModel):
    """Body of ``POST /api/store/agents/{username}/{agent_name}/review`` (AutoGPT's ``StoreReviewCreate``)."""

    model_config = ConfigDict(extra="ignore")

    store_listing_version_id: str = Field(max_length=64)
    score: int = Field(ge=MIN_SCORE, le=MAX_SCORE)
    comments: str | None = Field(default=None, max_length=5000)


class StoreReview(BaseModel):
    """A review as AutoGPT answers it."""

    score: int
    comments: str | None


# -- profile ------------------------------------------------------------------------------------


@queries.get("/profile", summary="The caller's store profile")
def get_profile(user: CurrentUser, container: ContainerDep) -> ProfileDetails:
    """AutoGPT's ``ProfileDetails``; 404 ``Profile not found`` before the first save."""
    profile = container.store_queries.profile(user.user_id)
    if profile is None:
        raise StoreNotFound("Profile not found")
    return profile


@commands.post("/profile", summary="Create or update the caller's store profile")
def save_profile(
    body: ProfileRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> ProfileDetails:
    """The profile as saved (the username lower-cased); 409 when another user holds the username."""
    username = body.username.lower()
    try:
        written = container.store.save_profile(
            user.user_id,
            name=body.name,
            username=username,
            description=body.description,
            links=list(body.links),
            avatar_url=body.avatar_url,
        )
    except UsernameTakenError:
        raise StoreConflict("username_taken", f"Username {username} is already taken") from None
    answer_with_token(response, token_for(container, "store", written))
    return ProfileDetails(
        name=written.name,
        username=written.username,
        description=written.description,
        links=written.links,
        avatar_url=written.avatar_url,
    )


# -- creators -----------------------------------------------------------------------------------


@queries.get("/creators", summary="Creators with agents in the store")
async def list_creators(
    container: ContainerDep,
    _: CurrentUser,
    featured: bool = False,
    search_query: SearchText = None,
    sorted_by: SortOrder = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> CreatorsResponse:
    """AutoGPT's ``CreatorsResponse``; ``sorted_by`` agent_rating | agent_runs | num_agents."""
    return await creators_page(container, featured, search_query, sorted_by, page, page_size)


@queries.get("/creator/{username}", summary="One creator")
async def get_creator(username: Handle, container: ContainerDep, _: CurrentUser) -> CreatorDetails:
    """AutoGPT's ``CreatorDetails``; 404 unless the creator has an agent in the store."""
    return await creator_details(container, username)


async def creators_page(
    container: Container, featured: bool, search_query: str | None, sorted_by: str | None, page: int, page_size: int
) -> CreatorsResponse:
    """A page of creators (cached): for the JWT route and the external API's."""
    _check_page(page, page_size)
    params = {"featured": featured, "q": search_query, "sorted_by": sorted_by, "page": page, "page_size": page_size}
    queries_ = container.store_queries
    found = await container.store_cache.answer(
        CreatorsResponse,
        "creators",
        params,
        queries_.generation,
        lambda: queries_.list_creators(
            featured=featured, search_query=search_query, sorted_by=sorted_by, page=page, page_size=page_size
        ),
    )
    assert found is not None
    return found


async def creator_details(container: Container, username: str) -> CreatorDetails:
    """One creator (cached), the name URL-decoded and lower-cased; 404 unless it has an agent in the store."""
    name = unquote(username).lower()
    queries_ = container.store_queries
    found = await container.store_cache.answer(
        CreatorDetails, "creator", {"username": name}, queries_.generation, lambda: queries_.creator(name)
    )
    if found is None:
        raise StoreNotFound("Creator not found")
    return found


# -- listings -----------------------------------------------------------------------------------


@queries.get("/agents", summary="The store's agents")
async def list_agents(
    container: ContainerDep,
    _: CurrentUser,
    featured: bool = False,
    creator: SearchText = None,
    sorted_by: SortOrder = None,
    search_query: SearchText = None,
    category: SearchText = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> StoreAgentsResponse:
    """AutoGPT's ``StoreAgentsResponse``: approved agents; ``sorted_by`` rating | runs | name."""
    return await agents_page(container, featured, creator, sorted_by, search_query, category, page, page_size)


@queries.get("/agents/{username}/{agent_name}", summary="One agent of the store")
async def get_agent(username: Handle, agent_name: Handle, container: ContainerDep, _: CurrentUser) -> StoreAgentDetails:
    """AutoGPT's ``StoreAgentDetails``; both path parts lower-cased and URL-decoded; 404 if not in the store."""
    return await agent_details(container, username, agent_name)


async def agents_page(
    container: Container,
    featured: bool,
    creator: str | None,
    sorted_by: str | None,
    search_query: str | None,
    category: str | None,
    page: int,
    page_size: int,
) -> StoreAgentsResponse:
    """A page of the store (cached): for the JWT route and the external API's."""
    _check_page(page, page_size)
    params: dict[str, Any] = {
        "featured": featured,
        "creator": creator,
        "sorted_by": sorted_by,
        "q": search_query,
        "category": category,
        "page": page,
        "page_size": page_size,
    }
    queries_ = container.store_queries
    found = await container.store_cache.answer(
        StoreAgentsResponse,
        "agents",
        params,
        queries_.generation,
        lambda: queries_.list_agents(
            featured=featured,
            creator=creator,
            search_query=search_query,
            category=category,
            sorted_by=sorted_by,
            page=page,
            page_size=page_size,
        ),
    )
    assert found is not None
    return found


async def agent_details(container: Container, username: str, agent_name: str) -> StoreAgentDetails:
    """One agent of the store (cached), both parts URL-decoded and lower-cased; 404 if not in the store."""
    name, slug = unquote(username).lower(), unquote(agent_name).lower()
    queries_ = container.store_queries
    found = await container.store_cache.answer(
        StoreAgentDetails,
        "agent",
        {"username": name, "slug": slug},
        queries_.generation,
        lambda: queries_.agent_details(name, slug),
    )
    if found is None:
        raise StoreNotFound(f"Agent {name}/{slug} not found")
    return found


@commands.post(
    "/agents/{username}/{agent_name}/review", summary="Rate an agent of the store", dependencies=[StoreConsistent]
)
def review_agent(
    username: Handle,
    agent_name: Handle,
    body: StoreReviewCreate,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> StoreReview:
    """Score 1-5 and comments for an approved version; a second review by the same user replaces the first."""
    listing = container.store_queries.listing_in_store(unquote(username).lower(), unquote(agent_name).lower())
    if listing is None:
        raise StoreNotFound("Store listing not found")
    approved = container.store_queries.approved_version(body.store_listing_version_id)
    if approved is None or approved.listing_id != listing.listing_id:  # the aggregate decides again, on its events
        raise StoreNotFound(f"Store listing version {body.store_listing_version_id} not found")
    try:
        written = container.store.review_agent(
            user.user_id, listing.listing_id, body.store_listing_version_id, body.score, body.comments
        )
    except StoreListingNotFoundError as error:
        raise StoreNotFound(str(error)) from None
    answer_with_token(response, token_for(container, "store", written))
    return StoreReview(score=written.score, comments=written.comments)


# -- submissions --------------------------------------------------------------------------------


@queries.get("/myagents", summary="The caller's graphs not yet in the store", dependencies=[GraphsConsistent])
def my_agents(user: CurrentUser, container: ContainerDep, page: Page = 1, page_size: PageSize = 20) -> MyAgentsResponse:
    """AutoGPT's ``MyAgentsResponse``: graphs with no submission yet, most recently edited first."""
    _check_page(page, page_size)
    return container.store_queries.my_agents(user.user_id, page, page_size)


@queries.get("/submissions", summary="The caller's submissions")
def list_submissions(
    user: CurrentUser, container: ContainerDep, page: Page = 1, page_size: PageSize = 20
) -> StoreSubmissionsResponse:
    """AutoGPT's ``StoreSubmissionsResponse``, newest first."""
    _check_page(page, page_size)
    return container.store_queries.submissions(user.user_id, page, page_size)


@commands.post("/submissions", summary="Submit one of the caller's graph versions to the store")
def create_submission(
    body: SubmissionRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> StoreSubmission:
    """A PENDING version of the graph's listing; 404 unless the graph version is the caller's."""
    container.graphs.graph_for_run(user.user_id, body.agent_id, body.agent_version, new_run=True)
    slug = body.slug.lower()
    if container.store_queries.slug_taken(user.user_id, slug, body.agent_id):
        raise StoreConflict("slug_taken", f"You already have an agent with the slug {slug}")
    details = body.model_dump(exclude={"agent_id", "agent_version", "slug"})
    try:
        written = container.store.submit(user.user_id, body.agent_id, body.agent_version, slug, details)
    except StoreListingNotFoundError:
        raise GraphNotFoundError(f"Graph {body.agent_id} not found") from None
    return _submission_answer(container, written, response)


@commands.delete(
    "/submissions/{submission_id}", summary="Withdraw one of the caller's submissions", dependencies=[StoreConsistent]
)
def delete_submission(
    submission_id: Annotated[str, Path(max_length=64, pattern=NO_NUL, description="Store listing version id")],
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> bool:
    """``true`` once withdrawn (it leaves the store if it was listed); 404 for someone else's or an unknown one."""
    listing = container.store_queries.listing_of_version(submission_id)
    if listing is None or listing.owner_user_id != user.user_id:
        raise StoreNotFound("Submission not found")
    try:
        written = container.store.withdraw(user.user_id, listing.listing_id, submission_id)
    except StoreListingNotFoundError:
        raise StoreNotFound("Submission not found") from None
    answer_with_token(response, token_for(container, "store", written))
    return True


@admin_commands.post(
    "/submissions/{store_listing_version_id}/review",
    summary="Approve or reject a submission",
    dependencies=[StoreConsistent],
)
async def review_submission(
    store_listing_version_id: VersionId,
    body: ReviewSubmissionRequest,
    admin: AdminUser,
    container: ContainerDep,
    response: Response,
) -> StoreSubmission:
    """The reviewed version (with the internal comments); answers once the store shows the decision.

    409 when the version is not PENDING any more; 404 for an unknown or withdrawn one.
    """
    if body.store_listing_version_id != store_listing_version_id:
        raise HTTPException(status_code=422, detail="store_listing_version_id in the body must match the path")
    listing = await asyncio.to_thread(container.store_queries.listing_of_version, store_listing_version_id)
    if listing is None:
        raise StoreNotFound(f"Store listing version {store_listing_version_id} not found")
    try:
        written = await asyncio.to_thread(
            lambda: container.store.review_submission(
                admin.user_id,
                listing.listing_id,
                store_listing_version_id,
                approved=body.is_approved,
                comments=body.comments,
                internal_comments=body.internal_comments,
            )
        )
    except StoreListingNotFoundError as error:
        raise StoreNotFound(str(error)) from None
    except SubmissionNotPendingError as error:
        raise StoreConflict("submission_not_pending", str(error)) from None
    token = token_for(container, "store", written)
    if token is not None:
        timeout = container.settings.consistency_wait_seconds
        applied = await asyncio.to_thread(wait_for, container, STORE_PROJECTION, decode_token(token), timeout)
        if not applied:
            response.headers[STALE_HEADER] = "true"
    answer = _submission_answer(container, written, response)
    return answer.model_copy(update={"internal_comments": written.version.get("internal_comments")})


@admin_queries.get("/listings", summary="Listings and their versions, for review (admins only)")
def admin_listings(
    _: AdminUser,
    container: ContainerDep,
    status: SubmissionStatus | None = None,
    search: SearchText = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> StoreListingsWithVersionsResponse:
    """AutoGPT's ``StoreListingsWithVersionsResponse`` (with internal comments); ``status`` keeps listings with a
    version in that status. 403 for non-admins."""
    _check_page(page, page_size)
    return container.store_queries.admin_listings(
        status=status.value if status else None, search=search, page=page, page_size=page_size
    )


def _submission_answer(container: Container, written: ListingWritten, response: Response) -> StoreSubmission:
    answer_with_token(response, token_for(container, "store", written))
    return submission(
        {
            **written.version,
            "listing_id": written.listing_id,
            "graph_id": written.graph_id,
            "slug": written.slug,
            "store_listing_version_id": written.store_listing_version_id,
        }
    )
