"""``/api/library``: a user's library agents and presets (AutoGPT's routes and shapes), commands and queries apart.

Library agents: ``GET /agents`` (``search_term`` up to 100 characters,
``sort_by`` createdAt|updatedAt, ``page``, ``page_size``), ``GET
/agents/favorites``, ``GET /agents/{id}``, ``GET /agents/by-graph/{graph_id}``,
``POST /agents {store_listing_version_id}`` (201), ``PATCH /agents/{id}``,
``DELETE /agents/{id}`` (204, soft), ``POST /agents/{id}/fork``. Presets:
``GET|POST /presets``, ``GET|PATCH|DELETE /presets/{id}``, ``POST
/presets/{id}/execute``. Someone else's entry or preset is 404, as an unknown
one is. Command answers that show a library agent wait (at most
``AGENTGRAPH_CONSISTENCY_WAIT_SECONDS``) until the library read model shows
the write, and carry its consistency token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import answer_with_token, consistent, decode_token, token_for, wait_for
from api.errors import responses
from api.ids import GraphId
from api.routers.credits import require_credits_to_run
from application.library import NothingToUpdateError, StoreListingVersionNotFoundError
from application.results import Written
from application.secret_inputs import SecretInputUnavailableError
from domain import library_agent as library_agents
from domain.execution_status import ExecutionStatus
from domain.json_codec import check_json_limits
from domain.library_agent import LibraryAgentNotFoundError
from domain.numbers import VersionNumber
from domain.preset import PresetNotFoundError
from domain.secret_inputs import mask_sealed
from projections.executions.models import RunWritten
from projections.executions.queries import run_meta
from projections.library.queries import (
    PROJECTION,
    LibraryAgent,
    LibraryAgentPreset,
    LibraryAgentPresetResponse,
    LibraryAgentResponse,
    LibraryAgentSort,
    preset_model,
)

LibraryConsistent = Depends(consistent(PROJECTION, frozenset({"graphs", "accounts"})))

commands = APIRouter(prefix="/api/library", tags=["library"], responses=responses(400, 401, 404, 409, 413, 422, 503))
queries = APIRouter(prefix="/api/library", tags=["library"], responses=responses(400, 401, 404, 422, 503))

MAX_SEARCH_TERM = 100
"""AutoGPT's limit on ``search_term`` (longer: 400 ``Search term is too long.``)."""

MAX_PAGE = 1_000_000
"""Pages beyond this are refused (422)."""

AgentId = Annotated[str, Path(max_length=64, description="Library agent id (UUID)")]
PresetId = Annotated[str, Path(max_length=64, description="Preset id (UUID)")]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1 for the first page")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Entries per page")]
Name = Annotated[str, Field(max_length=1000)]
Description = Annotated[str, Field(max_length=10_000)]
Inputs = Annotated[dict[str, Any], BeforeValidator(check_json_limits)]


class NotInLibraryError(HTTPException):
    """404: no such library agent for this user."""

    code = "library_agent_not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


class ListingVersionNotFoundError(HTTPException):
    """404: no approved store listing version with that id (AutoGPT's message)."""

    code = "store_listing_version_not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


class NoSuchPresetError(HTTPException):
    """404: no such preset for this user."""

    code = "preset_not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


class InvalidLibraryInputError(HTTPException):
    """400: AutoGPT's invalid input (an empty update, a search term that is too long)."""

    code = "invalid_input"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=400, detail=detail)


class SecretUnavailableError(HTTPException):
    """409: a preset's secret input cannot be opened any more (its user's secrets were erased)."""

    code = "secret_input_unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=409, detail=detail)


@contextmanager
def _answers() -> Iterator[None]:
    """The library's own errors as structured 4xx answers."""
    try:
        yield
    except LibraryAgentNotFoundError as exc:
        raise NotInLibraryError(str(exc)) from None
    except StoreListingVersionNotFoundError as exc:
        raise ListingVersionNotFoundError(str(exc)) from None
    except PresetNotFoundError as exc:
        raise NoSuchPresetError(str(exc)) from None
    except NothingToUpdateError as exc:
        raise InvalidLibraryInputError(str(exc)) from None
    except SecretInputUnavailableError as exc:  # the user's secrets were erased: the preset's cannot be opened
        raise SecretUnavailableError(str(exc)) from None


# -- bodies ----------------------------------------------------------------------


class AddFromStoreRequest(BaseModel):
    """Body of ``POST /api/library/agents``."""

    model_config = ConfigDict(extra="ignore")

    store_listing_version_id: str = Field(min_length=1, max_length=64)


class UpdateLibraryAgentRequest(BaseModel):
    """Body of ``PATCH /api/library/agents/{id}`` (AutoGPT's ``LibraryAgentUpdateRequest``)."""

    model_config = ConfigDict(extra="ignore")

    auto_update_version: bool | None = None
    graph_version: VersionNumber | None = None
    is_favorite: bool | None = None
    is_archived: bool | None = None
    is_deleted: bool | None = Field(default=None, description="Refused when true: use DELETE")


class CreatePresetRequest(BaseModel):
    """Body of ``POST /api/library/presets``: a graph version with inputs, or a run to copy the inputs of."""

    model_config = ConfigDict(extra="ignore")

    graph_id: str | None = Field(default=None, max_length=64)
    graph_version: VersionNumber | None = None
    graph_execution_id: str | None = Field(default=None, max_length=64)
    inputs: Inputs = Field(default_factory=dict)
    credentials: Inputs = Field(default_factory=dict)
    name: Name
    description: Description = ""
    is_active: bool = True


class UpdatePresetRequest(BaseModel):
    """Body of ``PATCH /api/library/presets/{id}`` (AutoGPT's ``LibraryAgentPresetUpdatable``: all optional)."""

    model_config = ConfigDict(extra="ignore")

    inputs: Inputs | None = None
    credentials: Inputs | None = None
    name: Name | None = None
    description: Description | None = None
    is_active: bool | None = None


class ExecutePresetRequest(BaseModel):
    """Body of ``POST /api/library/presets/{id}/execute``: inputs over the preset's own."""

    model_config = ConfigDict(extra="ignore")

    inputs: Inputs = Field(default_factory=dict)
    credential_inputs: Inputs = Field(
        default_factory=dict, validation_alias=AliasChoices("credential_inputs", "credentials_inputs")
    )


# -- library agents: queries --------------------------------------------------------


@queries.get("/agents", summary="The caller's library", dependencies=[LibraryConsistent])
def list_library_agents(
    user: CurrentUser,
    container: ContainerDep,
    search_term: Annotated[str | None, Query(max_length=10_000)] = None,
    sort_by: LibraryAgentSort = LibraryAgentSort.UPDATED_AT,
    page: PageNumber = 1,
    page_size: PageSize = 15,
) -> LibraryAgentResponse:
    """Entries neither deleted nor archived, matching ``search_term`` (graph name or description)."""
    term = (search_term or "").strip()
    if len(term) > MAX_SEARCH_TERM:
        raise InvalidLibraryInputError("Search term is too long.")
    return container.library_queries.list_agents(
        user.user_id, search_term=term or None, sort_by=sort_by, page=page, page_size=page_size
    )


@queries.get("/agents/favorites", summary="The caller's favourite library agents", dependencies=[LibraryConsistent])
def list_favorite_library_agents(
    user: CurrentUser, container: ContainerDep, page: PageNumber = 1, page_size: PageSize = 15
) -> LibraryAgentResponse:
    """Favourite entries (not deleted, not archived), most recently updated first."""
    return container.library_queries.list_agents(
        user.user_id,
        search_term=None,
        sort_by=LibraryAgentSort.UPDATED_AT,
        page=page,
        page_size=page_size,
        favorites_only=True,
    )


@queries.get(
    "/agents/by-graph/{graph_id}", summary="The caller's library agent of a graph", dependencies=[LibraryConsistent]
)
def get_library_agent_by_graph(graph_id: GraphId, user: CurrentUser, container: ContainerDep) -> LibraryAgent:
    """404 unless the graph is in the caller's library."""
    with _answers():
        return container.library_queries.by_graph(user.user_id, str(graph_id))


@queries.get("/agents/{library_agent_id}", summary="One library agent", dependencies=[LibraryConsistent])
def get_library_agent(library_agent_id: AgentId, user: CurrentUser, container: ContainerDep) -> LibraryAgent:
    """Archived entries too; 404 for a deleted, unknown or someone else's entry."""
    with _answers():
        return container.library_queries.get_agent(user.user_id, library_agent_id)


# -- library agents: commands -------------------------------------------------------


def _shown(
    container: Container, response: Response, user_id: str, agent_id: str, written: Written, context: str
) -> LibraryAgent:
    """The entry as the library read model shows it once it applied ``written``."""
    token = token_for(container, context, written)
    answer_with_token(response, token)
    if token is not None:
        positions = decode_token(token)
        timeout = container.settings.consistency_wait_seconds
        wait_for(container, PROJECTION, positions, timeout)
        if context == "graphs":  # the entry joins the graph's own read model
            wait_for(container, "graphs", positions, timeout)
    with _answers():
        return container.library_queries.get_agent(user_id, agent_id)


@commands.post(
    "/agents", summary="Add a store agent to the caller's library", status_code=201, dependencies=[LibraryConsistent]
)
async def add_store_agent(
    body: AddFromStoreRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> LibraryAgent:
    """No copy: the listed version stays its creator's; the caller may run it. 404 for an unknown listing version."""
    with _answers():
        written = await asyncio.to_thread(container.library.add_from_store, user.user_id, body.store_listing_version_id)
    return await asyncio.to_thread(
        _shown, container, response, user.user_id, str(written.aggregate_id), written, "accounts"
    )


@commands.patch("/agents/{library_agent_id}", summary="Change a library agent", dependencies=[LibraryConsistent])
def update_library_agent(
    library_agent_id: AgentId,
    body: UpdateLibraryAgentRequest,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
) -> LibraryAgent:
    """Favourite, archive, auto-update, re-point; 400 ``No values were passed to update`` for an empty body."""
    with _answers():
        if body.is_deleted:
            raise InvalidLibraryInputError("Use DELETE to remove an agent from the library")
        graph_id, _ = container.library_queries.graph_of(user.user_id, library_agent_id)
        written = container.library.update(
            user.user_id,
            graph_id,
            auto_update_version=body.auto_update_version,
            graph_version=body.graph_version,
            is_favorite=body.is_favorite,
            is_archived=body.is_archived,
        )
    return _shown(container, response, user.user_id, library_agent_id, written, "accounts")


@commands.delete(
    "/agents/{library_agent_id}",
    summary="Remove an agent from the library",
    status_code=204,
    dependencies=[LibraryConsistent],
)
def delete_library_agent(library_agent_id: AgentId, user: CurrentUser, container: ContainerDep) -> Response:
    """Soft delete; ``LibraryAgent.Deleted`` ends the graph's schedules. 404 for an unknown entry."""
    with _answers():
        graph_id, _ = container.library_queries.graph_of(user.user_id, library_agent_id)
        written = container.library.delete(user.user_id, graph_id)
    response = Response(status_code=204)
    answer_with_token(response, token_for(container, "accounts", written))
    return response


@commands.post(
    "/agents/{library_agent_id}/fork",
    summary="Copy a library agent into a graph of the caller's own",
    dependencies=[LibraryConsistent],
)
def fork_library_agent(
    library_agent_id: AgentId, user: CurrentUser, container: ContainerDep, response: Response
) -> LibraryAgent:
    """The graph version (and the sub-graphs it runs) copied with new ids as ``<name> (copy)``, in the library."""
    with _answers():
        graph_id, version = container.library_queries.graph_of(user.user_id, library_agent_id)
    saved = container.library.fork(user.user_id, graph_id, version)
    new_id = str(library_agents.library_agent_id(user.user_id, str(saved.aggregate_id)))
    return _shown(container, response, user.user_id, new_id, saved, "graphs")


# -- presets ------------------------------------------------------------------------


@queries.get("/presets", summary="The caller's presets", dependencies=[LibraryConsistent])
def list_presets(
    user: CurrentUser,
    container: ContainerDep,
    page: PageNumber = 1,
    page_size: PageSize = 10,
    graph_id: Annotated[str | None, Query(max_length=64)] = None,
) -> LibraryAgentPresetResponse:
    """Presets not deleted, most recently changed first; ``graph_id`` keeps one graph's."""
    return container.library_queries.list_presets(user.user_id, graph_id=graph_id, page=page, page_size=page_size)


@queries.get("/presets/{preset_id}", summary="One preset", dependencies=[LibraryConsistent])
def get_preset(preset_id: PresetId, user: CurrentUser, container: ContainerDep) -> LibraryAgentPreset:
    """404 for a deleted, unknown or someone else's preset."""
    with _answers():
        return container.library_queries.get_preset(user.user_id, preset_id)


def _preset_answer(container: Container, response: Response, written: Any) -> LibraryAgentPreset:
    answer_with_token(response, token_for(container, "accounts", written))
    return preset_model(
        preset_id=str(written.aggregate_id),
        user_id=written.user_id,
        updated_at=written.updated_at,
        graph_id=written.graph_id,
        graph_version=written.graph_version,
        inputs=mask_sealed(written.inputs),
        credentials=written.credentials,
        name=written.name,
        description=written.description,
        is_active=written.is_active,
    )


@commands.post("/presets", summary="Save a preset")
def create_preset(
    body: CreatePresetRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> LibraryAgentPreset:
    """From ``{graph_id, graph_version, inputs, credentials, ...}``, or ``{graph_execution_id, ...}`` (a run's)."""
    with _answers():
        if body.graph_execution_id is not None:
            written = container.library.create_preset_from_run(
                user.user_id,
                body.graph_execution_id,
                name=body.name,
                description=body.description,
                is_active=body.is_active,
            )
        elif body.graph_id is not None and body.graph_version is not None:
            written = container.library.create_preset(
                user.user_id,
                graph_id=body.graph_id,
                graph_version=body.graph_version,
                name=body.name,
                description=body.description,
                is_active=body.is_active,
                inputs=body.inputs,
                credentials=body.credentials,
            )
        else:
            raise InvalidLibraryInputError("Give graph_id and graph_version, or graph_execution_id")
    return _preset_answer(container, response, written)


@commands.patch("/presets/{preset_id}", summary="Change a preset")
def update_preset(
    preset_id: PresetId, body: UpdatePresetRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> LibraryAgentPreset:
    """Fields given replace the old ones (inputs and credentials as a whole)."""
    changes = body.model_dump(exclude_none=True)
    with _answers():
        written = container.library.update_preset(user.user_id, preset_id, changes)
    return _preset_answer(container, response, written)


@commands.delete("/presets/{preset_id}", summary="Delete a preset", status_code=204)
def delete_preset(preset_id: PresetId, user: CurrentUser, container: ContainerDep) -> Response:
    """Soft delete; 404 for an unknown or someone else's preset."""
    with _answers():
        written = container.library.delete_preset(user.user_id, preset_id)
    response = Response(status_code=204)
    answer_with_token(response, token_for(container, "accounts", written))
    return response


@commands.post("/presets/{preset_id}/execute", summary="Run a preset", responses=responses(402))
def execute_preset(
    preset_id: PresetId, body: ExecutePresetRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> RunWritten:
    """Run the preset's graph version with ``preset.inputs | inputs``; the run's ``preset_id`` names the preset."""
    require_credits_to_run(container, user.user_id)
    with _answers():
        requested = container.library.execute_preset(user.user_id, preset_id, body.inputs, body.credential_inputs)
    meta = run_meta(
        execution_id=str(requested.aggregate_id),
        user_id=requested.user_id,
        graph_id=requested.graph_id,
        graph_version=requested.graph_version,
        status=ExecutionStatus.QUEUED,
        inputs=requested.inputs,
        credential_inputs=requested.credentials_inputs,
        preset_id=requested.preset_id,
    )
    token = answer_with_token(response, token_for(container, "executions", requested))
    return RunWritten(**meta.model_dump(), consistency_token=token)
