"""``X-API-Key`` authentication for the external API, with one permission per route.

How a key is checked, per request:

1. the key's head (first 8 characters) finds the candidate key ids in the
   read model (``read.api_keys``, indexed by head); the create route waits
   until the read model shows a new key, so a key works as soon as its
   creator has it;
2. each candidate's salted scrypt hash is compared with the key's in constant
   time (``domain.api_key_secret``). scrypt is slow on purpose (tens of ms),
   so a match is remembered in memory for this process, keyed by an HMAC of
   the key under a random per-process secret (never the key itself);
3. the key's status and permissions are always read from the ``ApiKey``
   aggregate, not the read model: the accounts application keeps loaded keys
   cached and fast-forwards them on every read, so a key suspended or revoked
   a moment ago, here or by another API process, is refused on the next
   request (401), whatever the projector's lag. The read model only narrows
   the candidates, and only by head;
4. the use is noted in memory for ``last_used_at`` (``application.api_key_usage``).

The acting user is the key's owner; the key's id and owner are recorded in
``application.command_metadata`` for the events the request's command writes
(in this ``async`` dependency, so the values reach the endpoint).

On the query side (``agentgraph serve --role api-queries``) a key is checked
the same way, so that process builds the accounts event store, alone
(``Part.ACCOUNTS``: no graphs store, no executions commands). Verifying from
the ``api_keys`` read model instead was weighed and refused: the read model
would have to hold each key's salt and scrypt hash (today it holds neither,
by design), and a key revoked a moment ago would still open every GET route
until the projector caught up. Checking a credential is not a query on the
domain: it reads the one aggregate whose state must be current. The same
process notes uses for ``last_used_at`` and records them (``ApiKey.Used``)
in that store, as any API process does.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.auth import User, record_actor
from api.composition import Container
from application.api_key_usage import ApiKeyUsage
from domain.api_key import ApiKey, APIKeyPermission
from domain.api_key_secret import MAX_KEY_LENGTH, head_of, looks_like_key

API_KEY_HEADER = "X-API-Key"
VERIFIED_CACHE_SIZE = 10_000
"""Keys remembered as verified per process (the cache is emptied when full)."""


@dataclass(frozen=True)
class ApiKeyCaller:
    """The caller of an external-API route: a key, its owner and its permissions."""

    api_key_id: str
    user_id: str
    permissions: frozenset[str]

    @property
    def user(self) -> User:
        """The key's owner, as the JWT routes see a user."""
        return User(user_id=self.user_id, email=None, role="user")


class ApiKeyAuthenticator:
    """Checks raw keys for one API process (see the module docstring)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._secret = secrets.token_bytes(32)
        self._verified: dict[bytes, UUID] = {}
        self._lock = threading.Lock()
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-key-usage")
        self.usage = ApiKeyUsage(
            container.accounts.record_api_key_uses,
            interval=container.settings.api_key_last_used_flush_seconds,
        )

    def authenticate(self, raw_key: str) -> ApiKey | None:
        """The active key ``raw_key`` is, or None (blocking: run it in a thread)."""
        if not looks_like_key(raw_key):
            return None
        accounts = self._container.accounts
        digest = hmac.new(self._secret, raw_key.encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(digest)
        if known is not None:
            return accounts.active_key(known)
        candidates = self._container.api_key_queries.ids_with_head(head_of(raw_key))
        key = accounts.authenticate(raw_key, candidates)
        if key is not None:
            with self._lock:
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    self._verified.clear()
                self._verified[digest] = key.id
        return key

    def known_key_id(self, raw_key: str) -> str | None:
        """The id of ``raw_key`` if this process verified it before (its cache only: no database, no scrypt)."""
        digest = hmac.new(self._secret, raw_key.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        with self._lock:
            known = self._verified.get(digest)
        return None if known is None else str(known)

    def note_use(self, key_id: UUID) -> None:
        """Note a use for ``last_used_at`` (batched; never a database write here)."""
        self.usage.touch(key_id, self._flusher)

    def close(self) -> None:
        """Record the uses not yet recorded."""
        self.usage.flush()
        self._flusher.shutdown(wait=True)


def authenticator_of(app: FastAPI) -> ApiKeyAuthenticator:
    """The app's authenticator, made on first use (the app's lifespan closes it)."""
    existing: ApiKeyAuthenticator | None = getattr(app.state, "api_key_authenticator", None)
    if existing is None:
        existing = ApiKeyAuthenticator(app.state.container)
        app.state.api_key_authenticator = existing
    return existing


def known_api_keys(app: FastAPI) -> Callable[[str], str | None]:
    """For the rate limiter: the id of a raw key this app verified before, else None (cache only)."""

    def known(raw_key: str) -> str | None:
        existing: ApiKeyAuthenticator | None = getattr(app.state, "api_key_authenticator", None)
        return None if existing is None else existing.known_key_id(raw_key)

    return known


def close_authenticator(app: FastAPI) -> None:
    """Flush the last uses at shutdown (nothing to do when no key was ever checked)."""
    existing: ApiKeyAuthenticator | None = getattr(app.state, "api_key_authenticator", None)
    if existing is not None:
        existing.close()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=message)


_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key (agpt_...)")


async def get_api_key_caller(
    request: Request, api_key: Annotated[str | None, Security(_api_key_header)]
) -> ApiKeyCaller:
    """The caller, from ``X-API-Key``; 401 when it is missing, unknown, suspended or revoked."""
    if not api_key:
        raise _unauthorized("No API key in request")
    if len(api_key) > MAX_KEY_LENGTH:  # refused before any lookup or hashing
        raise _unauthorized("Invalid API key")
    authenticator = authenticator_of(request.app)
    key = await asyncio.to_thread(authenticator.authenticate, api_key)
    if key is None:
        raise _unauthorized("Invalid API key")
    caller = ApiKeyCaller(api_key_id=str(key.id), user_id=key.user_id, permissions=frozenset(key.permissions))
    record_actor(user_id=caller.user_id, api_key_id=caller.api_key_id)
    authenticator.note_use(key.id)
    return caller


def require_permission(permission: APIKeyPermission) -> object:
    """A dependency: the caller's key, which must hold ``permission`` (403 otherwise)."""

    async def dependency(caller: Annotated[ApiKeyCaller, Depends(get_api_key_caller)]) -> ApiKeyCaller:
        if permission not in caller.permissions:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN, detail=f"API key lacks the {permission} permission"
            )
        return caller

    return Depends(dependency)
