"""Rate limiting of the HTTP API: a sliding window per caller and route group, as AutoGPT's middleware.

Who is counted, in AutoGPT's order: the API key (``X-API-Key``; Redis only
ever sees a SHA-256 of it, never the key), else the authenticated user, else
the client's address. The user comes from a *verified* bearer token: this
middleware verifies the JWT itself (the same ``api.auth.decode_token`` the
routes use), because an unverified ``sub`` could be forged to spend another
user's budget. A token that does not verify counts against the address (the
route then answers 401). It runs as middleware, before routing, so a
refused request costs no handler, no body parsing and no database work.

An ``X-API-Key`` counts against the key's id once this process has verified
that key (``known_api_key``: the authenticator's cache, no database and no
scrypt here); a key not (yet) verified counts against the address, like a
bad token, so sending random key values never buys a fresh window. The
first request of a valid key is counted against the address; its next ones
against the key.

The client's address is the connection's peer (``scope["client"]``), not a
client-supplied ``X-Forwarded-For``, which anyone could vary to escape the
limit; behind a proxy, run uvicorn with ``--proxy-headers
--forwarded-allow-ips`` so the peer is the real client.

Limits: ``AGENTGRAPH_RATE_LIMIT_PER_MINUTE`` (default 60) per caller, and
``AGENTGRAPH_RATE_LIMITS``, a JSON map of path prefix -> requests per minute
(the longest matching prefix wins; each group has its own budget; 0 turns
limiting off for the group). Limited responses carry ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (Unix seconds); a refused
request gets 429 with ``Retry-After`` and the structured JSON body.
Probes, metrics and the API documents are never limited.

When the limiter's store (Redis) is unavailable, requests pass (fail open):
one warning per outage, every such request counted in
``rate_limit_fail_open_total``, and Redis is not asked again for
``OUTAGE_RETRY_SECONDS`` so an outage costs requests no time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.jwt_keys import JWTConfig
from adapters.rate_limit.limiter import RateLimitDecision, RateLimiter, RateLimiterUnavailableError
from api.auth import decode_token
from api.errors import error_body

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60
"""The window of every limit: requests per minute, as AutoGPT counts."""

EXEMPT_PATHS = ("/health", "/ready", "/metrics", "/docs", "/redoc", "/openapi.json")
"""Never limited: probes and scrapers poll these, and the documents are static."""

OUTAGE_RETRY_SECONDS = 1.0
"""After Redis failed, requests pass without asking it for this long (then one request tries again)."""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _no_known_key(_: str) -> str | None:
    return None


def caller_identity(
    scope: Scope, jwt: JWTConfig | None, known_api_key: Callable[[str], str | None] = _no_known_key
) -> str:
    """Whom a request counts against: ``key:<key id>``, ``user:<sha256 of sub>`` or ``ip:<address>``."""
    headers = Headers(scope=scope)
    api_key = headers.get("x-api-key")
    key_id = known_api_key(api_key) if api_key else None
    if key_id is not None:
        return f"key:{key_id}"
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if jwt is not None and scheme.lower() == "bearer" and token.strip():
        try:
            claims = decode_token(token.strip(), jwt)
        except HTTPException:
            pass  # not a valid token: counted by address, and the route answers 401
        else:
            return f"user:{_digest(str(claims['sub']))}"
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def route_group(path: str, limits: Mapping[str, int], default: int) -> tuple[str, int]:
    """The group ``path`` belongs to (its longest configured prefix, else ``default``) and its limit."""
    best = max((prefix for prefix in limits if path.startswith(prefix)), key=len, default=None)
    return ("default", default) if best is None else (best, limits[best])


def is_exempt(path: str) -> bool:
    """True for the paths that are never limited (and what lies under them, e.g. ``/docs/oauth2-redirect``)."""
    return any(path == exempt or path.startswith(exempt + "/") for exempt in EXEMPT_PATHS)


def limit_headers(result: RateLimitDecision) -> list[tuple[bytes, bytes]]:
    """``X-RateLimit-*`` headers (and ``Retry-After`` when refused)."""
    headers = [
        (b"x-ratelimit-limit", str(result.limit).encode()),
        (b"x-ratelimit-remaining", str(result.remaining).encode()),
        (b"x-ratelimit-reset", str(result.reset_at).encode()),
    ]
    if not result.allowed:
        headers.append((b"retry-after", str(result.retry_after).encode()))
    return headers


class RateLimitMiddleware:
    """Counts every non-exempt HTTP request against its caller's window; 429 when it is full."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RateLimiter,
        default_limit: int,
        limits: Mapping[str, int],
        jwt: Callable[[], JWTConfig | None],
        on_fail_open: Callable[[], None],
        known_api_key: Callable[[str], str | None] = _no_known_key,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.default_limit = default_limit
        self.limits = dict(limits)
        self.jwt = jwt
        self.on_fail_open = on_fail_open
        self.known_api_key = known_api_key
        self._outage_until: float | None = None  # set while the store is down: one warning per outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or is_exempt(path):
            await self.app(scope, receive, send)
            return
        group, limit = route_group(path, self.limits, self.default_limit)
        if limit <= 0:
            await self.app(scope, receive, send)
            return
        result = await self._count(f"{caller_identity(scope, self.jwt(), self.known_api_key)}:{group}", limit)
        if result is None:
            await self.app(scope, receive, send)
            return
        headers = limit_headers(result)
        if not result.allowed:
            await self._refuse(send, result, headers)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _count(self, key: str, limit: int) -> RateLimitDecision | None:
        """The limiter's decision, or None when it is unavailable (the request passes)."""
        now = time.monotonic()
        if self._outage_until is not None and now < self._outage_until:
            self.on_fail_open()
            return None
        try:
            result = await self.limiter.hit(key, limit, WINDOW_SECONDS)
        except RateLimiterUnavailableError as exc:
            if self._outage_until is None:
                log.warning("rate limiting is off: its store is unavailable (%s); requests pass unchecked", exc)
            self._outage_until = now + OUTAGE_RETRY_SECONDS
            self.on_fail_open()
            return None
        if self._outage_until is not None:
            log.warning("rate limiting is back: its store answers again")
            self._outage_until = None
        return result

    @staticmethod
    async def _refuse(send: Send, result: RateLimitDecision, headers: list[tuple[bytes, bytes]]) -> None:
        body = json.dumps(
            error_body(
                429,
                f"Rate limit exceeded: at most {result.limit} requests per {WINDOW_SECONDS} seconds; "
                f"retry in {result.retry_after} s",
                limit=result.limit,
                window_seconds=WINDOW_SECONDS,
                retry_after=result.retry_after,
            )
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
