"""``/external-api/v1/store``: the store for programs holding an API key with READ_STORE (AutoGPT's external API).

``GET /store/agents``, ``GET /store/agents/{username}/{agent_name}``,
``GET /store/creators``, ``GET /store/creators/{username}``: the same
answers (and cache) as the JWT routes under ``/api/store``; a key without
READ_STORE is 403, a missing or bad key 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from api.api_key_auth import ApiKeyCaller, require_permission
from api.composition import ContainerDep
from api.routers.external import PREFIX
from api.routers.store import (
    Handle,
    Page,
    PageSize,
    SearchText,
    SortOrder,
    StoreConsistent,
    agent_details,
    agents_page,
    creator_details,
    creators_page,
    store_responses,
)
from domain.api_key import APIKeyPermission
from projections.store_listings.queries import CreatorDetails, CreatorsResponse, StoreAgentDetails, StoreAgentsResponse

queries = APIRouter(
    prefix=f"{PREFIX}/store",
    tags=["external-api"],
    responses=store_responses(400, 401, 403, 404, 422, 503),
    dependencies=[StoreConsistent],
)

ReadStore = Annotated[ApiKeyCaller, require_permission(APIKeyPermission.READ_STORE)]


@queries.get("/agents", summary="The store's agents (READ_STORE)")
async def list_agents(
    _: ReadStore,
    container: ContainerDep,
    featured: bool = False,
    creator: SearchText = None,
    sorted_by: SortOrder = None,
    search_query: SearchText = None,
    category: SearchText = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> StoreAgentsResponse:
    """As ``GET /api/store/agents``."""
    return await agents_page(container, featured, creator, sorted_by, search_query, category, page, page_size)


@queries.get("/agents/{username}/{agent_name}", summary="One agent of the store (READ_STORE)")
async def get_agent(username: Handle, agent_name: Handle, _: ReadStore, container: ContainerDep) -> StoreAgentDetails:
    """As ``GET /api/store/agents/{username}/{agent_name}``."""
    return await agent_details(container, username, agent_name)


@queries.get("/creators", summary="Creators with agents in the store (READ_STORE)")
async def list_creators(
    _: ReadStore,
    container: ContainerDep,
    featured: bool = False,
    search_query: SearchText = None,
    sorted_by: SortOrder = None,
    page: Page = 1,
    page_size: PageSize = 20,
) -> CreatorsResponse:
    """As ``GET /api/store/creators``."""
    return await creators_page(container, featured, search_query, sorted_by, page, page_size)


@queries.get("/creators/{username}", summary="One creator (READ_STORE)")
async def get_creator(username: Handle, _: ReadStore, container: ContainerDep) -> CreatorDetails:
    """As ``GET /api/store/creator/{username}``."""
    return await creator_details(container, username)
