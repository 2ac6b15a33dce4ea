"""``/api/integrations``: a user's integration credentials, and the admin's erasure of a user's secrets.

AutoGPT's routes and shapes, commands and queries on separate routers. Every
answer is ``CredentialsMetaResponse``: the secrets go in with the create
request and never come out (AutoGPT's later versions strip them from the
single-credentials answer too). Another user's credentials, deleted ones and
unknown ids all answer 404 ``Credentials not found``; the caller's own of
another provider ``Credentials do not match the specified provider``.
Deleting answers ``{"deleted": true, "revoked": null}`` (``revoked`` is false
for oauth2: the provider is not called to revoke the token).

``DELETE /api/admin/users/{user_id}/secrets`` (admins only) crypto-shreds
the user's data key: every secret of theirs becomes unreadable for ever,
their credentials leave the listings, and runs that need them fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.auth import AdminUser, CurrentUser
from api.composition import Container, ContainerDep
from api.consistency import answer_with_token, consistent, decode_token, token_for, wait_for
from api.errors import responses
from application.credentials import CredentialsWritten
from application.results import Written
from domain.credentials import CredentialsMeta, CredentialsNotFoundError, CredentialsType
from domain.data_key import UserDataKey
from projections.credentials.queries import PROJECTION, CredentialsMetaResponse, credentials_meta_response

CredentialsConsistent = Depends(consistent(PROJECTION, frozenset({"accounts"})))

commands = APIRouter(
    prefix="/api/integrations", tags=["integrations"], responses=responses(400, 401, 404, 413, 422, 503)
)
queries = APIRouter(
    prefix="/api/integrations",
    tags=["integrations"],
    responses=responses(400, 401, 404, 422, 503),
    dependencies=[CredentialsConsistent],
)
admin_commands = APIRouter(prefix="/api/admin", tags=["admin"], responses=responses(400, 401, 403, 422, 503))

Provider = Annotated[str, Path(min_length=1, max_length=100, description="Provider name, e.g. openai, github, http")]
CredentialsId = Annotated[str, Path(max_length=64, description="Credentials id (UUID)")]
Secret = Annotated[SecretStr, Field(min_length=1, max_length=16_384)]
Text = Annotated[str, Field(max_length=1000)]
Timestamp = Annotated[int, Field(ge=0, le=2**53)]


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="ignore")

    provider: str | None = Field(default=None, max_length=100, description="Ignored: the path names the provider")
    title: Text | None = None


class APIKeyCredentials(_Credentials):
    """An API key (AutoGPT's ``APIKeyCredentials``)."""

    type: Literal["api_key"]
    api_key: Secret
    expires_at: Timestamp | None = None


class OAuth2Credentials(_Credentials):
    """OAuth2 tokens (AutoGPT's ``OAuth2Credentials``); stored as given, never refreshed here."""

    type: Literal["oauth2"]
    username: Text | None = None
    access_token: Secret
    access_token_expires_at: Timestamp | None = None
    refresh_token: Secret | None = None
    refresh_token_expires_at: Timestamp | None = None
    scopes: list[Text] = Field(default_factory=list, max_length=100)


class UserPasswordCredentials(_Credentials):
    """A user name and password (AutoGPT's ``UserPasswordCredentials``)."""

    type: Literal["user_password"]
    username: Text
    password: Secret


class HostScopedCredentials(_Credentials):
    """Headers sent to one host (AutoGPT's ``HostScopedCredentials``); ``*.example.com`` covers subdomains."""

    type: Literal["host_scoped"]
    host: str = Field(min_length=1, max_length=253)
    headers: dict[Annotated[str, Field(min_length=1, max_length=256)], Secret] = Field(max_length=50)


CredentialsBody = Annotated[
    APIKeyCredentials | OAuth2Credentials | UserPasswordCredentials | HostScopedCredentials,
    Field(discriminator="type"),
]


class CredentialsDeletionResponse(BaseModel):
    """AutoGPT's answer to a delete."""

    deleted: Literal[True] = True
    revoked: bool | None = Field(description="Whether the provider revoked the token: false for oauth2, else null")


class SecretsErasedResponse(BaseModel):
    """What erasing a user's secrets did."""

    user_id: str
    erased: bool = Field(description="True when the user had a data key, now destroyed")


class CredentialsNotFound(HTTPException):
    """404 with AutoGPT's text."""

    code = "credentials_not_found"

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=404, detail=detail)


def _split(user_id: str, provider: str, body: CredentialsBody) -> tuple[CredentialsMeta, dict[str, object]]:
    """The metadata (shown) and the secrets (sealed) of a create request."""
    kind = CredentialsType(body.type)
    meta = CredentialsMeta(user_id=user_id, provider=provider, type=kind, title=body.title)
    if isinstance(body, APIKeyCredentials):
        return replace(meta, expires_at=body.expires_at), {"api_key": body.api_key.get_secret_value()}
    if isinstance(body, OAuth2Credentials):
        secrets: dict[str, object] = {"access_token": body.access_token.get_secret_value()}
        if body.refresh_token is not None:
            secrets["refresh_token"] = body.refresh_token.get_secret_value()
        return replace(
            meta,
            username=body.username,
            scopes=list(body.scopes),
            access_token_expires_at=body.access_token_expires_at,
            refresh_token_expires_at=body.refresh_token_expires_at,
        ), secrets
    if isinstance(body, UserPasswordCredentials):
        return replace(meta, username=body.username), {"password": body.password.get_secret_value()}
    headers = {name: value.get_secret_value() for name, value in body.headers.items()}
    return replace(meta, host=body.host), {"headers": headers}


async def _answer_once_visible(container: Container, written: Written, response: Response) -> None:
    """Put the consistency token on the answer, and wait (bounded) until the listings show the change."""
    token = answer_with_token(response, token_for(container, "accounts", written))
    if token is not None:
        timeout = container.settings.consistency_wait_seconds
        await asyncio.to_thread(wait_for, container, PROJECTION, decode_token(token), timeout)


@commands.post("/{provider}/credentials", status_code=201, summary="Store credentials for a provider")
async def create_credentials(
    provider: Provider, body: CredentialsBody, user: CurrentUser, container: ContainerDep, response: Response
) -> CredentialsMetaResponse:
    """The stored credentials' metadata; the secrets are sealed under the user's data key and never shown again."""
    meta, secrets = _split(user.user_id, provider, body)
    written: CredentialsWritten = await asyncio.to_thread(container.credentials.create, meta, secrets)
    await _answer_once_visible(container, written, response)
    return credentials_meta_response(str(written.aggregate_id), written.meta)


@commands.delete("/{provider}/credentials/{credentials_id}", summary="Delete credentials")
async def delete_credentials(
    provider: Provider,
    credentials_id: CredentialsId,
    user: CurrentUser,
    container: ContainerDep,
    response: Response,
    force: Annotated[bool, Query(description="AutoGPT's webhook override (no webhooks here: ignored)")] = False,
) -> CredentialsDeletionResponse:
    """``{"deleted": true, "revoked": null}``; runs that need them afterwards fail."""
    del force  # AutoGPT's clients send it; with no webhooks there is nothing it could override
    try:
        written = await asyncio.to_thread(container.credentials.delete, user.user_id, provider, credentials_id)
    except CredentialsNotFoundError as exc:
        raise CredentialsNotFound(str(exc)) from None
    await _answer_once_visible(container, written, response)
    return CredentialsDeletionResponse(revoked=False if written.meta.type == CredentialsType.OAUTH2 else None)


@queries.get("/credentials", summary="List the caller's credentials (metadata only)")
def list_credentials(user: CurrentUser, container: ContainerDep) -> list[CredentialsMetaResponse]:
    """Every provider's."""
    return container.credentials_queries.list_credentials(user.user_id)


@queries.get("/{provider}/credentials", summary="List the caller's credentials for a provider")
def list_provider_credentials(
    provider: Provider, user: CurrentUser, container: ContainerDep
) -> list[CredentialsMetaResponse]:
    """Metadata only."""
    return container.credentials_queries.list_credentials(user.user_id, provider)


@queries.get("/{provider}/credentials/{credentials_id}", summary="One of the caller's credentials (metadata only)")
def get_credentials(
    provider: Provider, credentials_id: CredentialsId, user: CurrentUser, container: ContainerDep
) -> CredentialsMetaResponse:
    """Secrets stripped, as AutoGPT's later versions answer."""
    try:
        return container.credentials_queries.get_credentials(user.user_id, provider, credentials_id)
    except CredentialsNotFoundError as exc:
        raise CredentialsNotFound(str(exc)) from None


@admin_commands.delete("/users/{user_id}/secrets", summary="Erase a user's secrets for ever (admins only)")
async def erase_user_secrets(
    user_id: Annotated[str, Path(max_length=200)], _: AdminUser, container: ContainerDep, response: Response
) -> SecretsErasedResponse:
    """Crypto-shredding: the user's data key is destroyed, so every secret of theirs is unreadable.

    The event log keeps its events (and still loads); their ciphertexts can no longer be opened by
    anyone. The user's credentials leave the listings; runs that need them fail. 403 for non-admins.
    """
    result = await asyncio.to_thread(container.credentials.erase_user_secrets, user_id)
    if result.position is not None:
        await _answer_once_visible(container, Written(UserDataKey.id_for(user_id), result.position), response)
    return SecretsErasedResponse(user_id=user_id, erased=result.destroyed)
