"""Bearer-token auth, compatible with AutoGPT's autogpt_libs.

``Authorization: Bearer <JWT>`` verified with ``JWT_VERIFY_KEY`` and
``JWT_ALGORITHM``, audience ``authenticated``; the user comes from ``sub``,
``email`` and ``role``. Every failure is a 401 with a message saying which;
a non-admin on an admin route gets 403.

The dependencies are ``async`` on purpose: they record who acts in
``application.command_metadata`` for the events the request's command
writes, and a value set in a sync dependency (run in the thread pool, in a
copy of the request's context) would be lost before the endpoint runs.

A verified token's claims are kept in a small per-process cache (the rate
limiter and the route's dependency both read the caller from each request,
and a client sends the same token for hours): a cached token is still
checked against its ``exp`` on every use, so caching changes no answer; a
token that fails verification is never cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from adapters.jwt_keys import JWTConfig
from application import command_metadata

AUDIENCE = "authenticated"

_bearer = HTTPBearer(auto_error=False, description="A JWT with audience 'authenticated'")


@dataclass(frozen=True)
class User:
    """The authenticated caller."""

    user_id: str
    email: str | None
    role: str
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        """True for the ``admin`` role."""
        return self.role == "admin"


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


VERIFIED_TOKENS_CACHED = 4096
"""Verified tokens whose claims a process keeps (a few hundred bytes each)."""


def decode_token(token: str, config: JWTConfig) -> dict[str, Any]:
    """Verify a token's signature, expiry and audience; return its claims."""
    claims = _verified_claims(token, config)
    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires <= time.time():  # PyJWT's rule, for a token verified earlier
        raise _unauthorized("Token has expired")
    return dict(claims)


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _verified_claims(token: str, config: JWTConfig) -> dict[str, Any]:
    """The claims of a token that verifies now (raises 401 otherwise, and then nothing is cached)."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            config.decoding_key,
            algorithms=[config.algorithm],
            audience=AUDIENCE,
            options={"require": ["sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("Token has expired") from None
    except jwt.InvalidAudienceError:
        raise _unauthorized("Invalid token audience") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _unauthorized(f"Token is missing the '{exc.claim}' claim") from None
    except jwt.InvalidSignatureError:
        raise _unauthorized("Invalid token signature") from None
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"Invalid token: {exc}") from None
    if not str(payload["sub"]).strip():  # "" would be one shared anonymous user for every such token
        raise _unauthorized("Token has an empty 'sub' claim")
    return payload


def mint_token(
    config: JWTConfig,
    user_id: str,
    *,
    email: str | None = None,
    role: str = "user",
    ttl_seconds: int = 24 * 3600,
) -> str:
    """A signed token the server accepts (HMAC keys only; used by dev-token and tests)."""
    if not config.can_sign:
        raise ValueError(f"cannot mint tokens with a {config.algorithm} verification key")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "aud": AUDIENCE,
        "role": role,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    return jwt.encode(claims, config.verify_key, algorithm=config.algorithm)


def record_actor(**actor: str | None) -> None:
    """Record who acts in this request for the events its command writes.

    The request's ``X-Request-ID`` is already there (``api.request_context``).
    Call it from an ``async`` dependency or the endpoint itself (see the module docstring).
    """
    command_metadata.set_current(**actor)


async def get_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller, from the bearer token; 401 when it is missing or bad."""
    if credentials is None:
        header = request.headers.get("authorization")
        raise _unauthorized(
            "Authorization header is missing" if not header else "Authorization header must be 'Bearer <token>'"
        )
    config: JWTConfig = request.app.state.container.jwt
    claims = decode_token(credentials.credentials, config)
    metadata = claims.get("user_metadata")
    record_actor(user_id=str(claims["sub"]))
    return User(
        user_id=str(claims["sub"]),
        email=claims.get("email"),
        role=str(claims.get("role") or "user"),
        name=metadata.get("name") if isinstance(metadata, dict) else None,
    )


async def require_admin(user: Annotated[User, Depends(get_user)]) -> User:
    """The caller, who must be an admin; 403 otherwise."""
    if not user.is_admin:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Admin access required")
    return user


CurrentUser = Annotated[User, Depends(get_user)]
AdminUser = Annotated[User, Depends(require_admin)]
