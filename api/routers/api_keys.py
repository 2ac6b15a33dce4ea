"""``/api/api-keys``: a user's API keys, commands and queries on separate routers (AutoGPT's routes and shapes).

The raw key is in the create answer only (``plain_text_key``); every other
answer shows ``prefix``/``postfix`` (head and tail) and the client masks the
rest. Another user's key and an unknown one both answer 404 ``API key not
found`` (AutoGPT answers 403 for another user's; we never confirm that an id
exists for someone else). A revoked key accepts no further suspend or
permission change: 409.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import ApiKeysConsistent, answer_with_token, decode_token, token_for, wait_for
from api.errors import responses
from application.results import ApiKeyWritten
from domain.api_key import APIKeyPermission
from domain.not_found import ApiKeyNotFoundError
from projections.api_keys.queries import PROJECTION as API_KEYS_PROJECTION
from projections.api_keys.queries import APIKeyInfo, api_key_info

commands = APIRouter(prefix="/api/api-keys", tags=["api-keys"], responses=responses(400, 401, 404, 409, 413, 422, 503))
queries = APIRouter(
    prefix="/api/api-keys",
    tags=["api-keys"],
    responses=responses(400, 401, 404, 422, 503),
    dependencies=[ApiKeysConsistent],
)

KeyId = Annotated[str, Path(max_length=64, description="API key id (UUID)")]
Permissions = Annotated[list[APIKeyPermission], Field(max_length=len(APIKeyPermission))]


class CreateAPIKeyRequest(BaseModel):
    """Body of ``POST /api/api-keys``."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    permissions: Permissions
    description: str | None = Field(default=None, max_length=2000)


class UpdatePermissionsRequest(BaseModel):
    """Body of ``PUT /api/api-keys/{id}/permissions``."""

    model_config = ConfigDict(extra="ignore")

    permissions: Permissions


class CreateAPIKeyResponse(BaseModel):
    """The new key: shown in full here, and never again."""

    api_key: APIKeyInfo
    plain_text_key: str


def _info(written: ApiKeyWritten) -> APIKeyInfo:
    return api_key_info(
        key_id=str(written.aggregate_id),
        user_id=written.user_id,
        name=written.name,
        description=written.description,
        head=written.head,
        tail=written.tail,
        status=written.status,
        permissions=written.permissions,
        created_at=written.created_at,
        last_used_at=written.last_used_at,
        revoked_at=written.revoked_at,
    )


def _key_uuid(key_id: str) -> UUID:
    try:
        return UUID(key_id)
    except ValueError:
        raise ApiKeyNotFoundError("API key not found") from None


def _answer(container: Container, written: ApiKeyWritten, response: Response) -> APIKeyInfo:
    answer_with_token(response, token_for(container, "accounts", written))
    return _info(written)


@commands.post("", summary="Create an API key (the full key is in this answer only)")
async def create_api_key(
    body: CreateAPIKeyRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> CreateAPIKeyResponse:
    """A new ACTIVE key with ``permissions``; answers once the key works on the external API.

    The key is looked up by its head in the read model, so the answer waits
    (at most ``AGENTGRAPH_CONSISTENCY_WAIT_SECONDS``) until the read model
    shows it.
    """
    written, raw = await asyncio.to_thread(
        container.accounts.create_api_key, user.user_id, body.name, body.description, body.permissions
    )
    token = token_for(container, "accounts", written)
    answer_with_token(response, token)
    if token is not None:
        positions = decode_token(token)
        timeout = container.settings.consistency_wait_seconds
        await asyncio.to_thread(wait_for, container, API_KEYS_PROJECTION, positions, timeout)
    return CreateAPIKeyResponse(api_key=_info(written), plain_text_key=raw)


@queries.get("", summary="List the caller's API keys (newest first, every status)")
def list_api_keys(user: CurrentUser, container: ContainerDep) -> list[APIKeyInfo]:
    """AutoGPT's ``[APIKeyInfo]``: head and tail only."""
    return container.api_key_queries.list_keys(user.user_id)


@queries.get("/{key_id}", summary="One of the caller's API keys")
def get_api_key(key_id: KeyId, user: CurrentUser, container: ContainerDep) -> APIKeyInfo:
    """404 ``API key not found`` for an unknown key or someone else's."""
    return container.api_key_queries.get_key(user.user_id, key_id)


@commands.delete("/{key_id}", summary="Revoke an API key")
def revoke_api_key(key_id: KeyId, user: CurrentUser, container: ContainerDep, response: Response) -> APIKeyInfo:
    """Status REVOKED with ``revoked_at``; the key stops working at once."""
    written = container.accounts.revoke_api_key(user.user_id, _key_uuid(key_id))
    return _answer(container, written, response)


@commands.post("/{key_id}/suspend", summary="Suspend an API key")
def suspend_api_key(key_id: KeyId, user: CurrentUser, container: ContainerDep, response: Response) -> APIKeyInfo:
    """Status SUSPENDED; the key stops working at once."""
    written = container.accounts.suspend_api_key(user.user_id, _key_uuid(key_id))
    return _answer(container, written, response)


@commands.put("/{key_id}/permissions", summary="Replace an API key's permissions")
def update_api_key_permissions(
    key_id: KeyId, body: UpdatePermissionsRequest, user: CurrentUser, container: ContainerDep, response: Response
) -> APIKeyInfo:
    """The key with its new permissions."""
    written = container.accounts.update_api_key_permissions(
        user.user_id,
        _key_uuid(key_id),
        body.permissions,
    )
    return _answer(container, written, response)
