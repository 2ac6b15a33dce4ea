"""CORS for browser clients on other origins (``AGENTGRAPH_CORS_ALLOWED_ORIGINS``), by Starlette's middleware.

Unset (the default), no CORS header is ever sent: browsers then keep pages
of other origins from reading the API's answers. Callers authenticate with
headers (a bearer token, ``X-API-Key``), never cookies, so credentials are
not allowed. The headers a client reads (request id, consistency token,
rate limits) are exposed.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.api_key_auth import API_KEY_HEADER
from api.consistency import STALE_HEADER, TOKEN_HEADER
from api.request_context import HEADER as REQUEST_ID_HEADER

ALLOWED_HEADERS = ["Authorization", "Content-Type", API_KEY_HEADER, REQUEST_ID_HEADER, TOKEN_HEADER]
EXPOSED_HEADERS = [
    REQUEST_ID_HEADER,
    TOKEN_HEADER,
    STALE_HEADER,
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
]
MAX_AGE_SECONDS = 600


def add_cors(app: FastAPI, allowed_origins: Sequence[str]) -> None:
    """Answer CORS requests from ``allowed_origins`` (nothing at all when it is empty)."""
    if not allowed_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allowed_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=MAX_AGE_SECONDS,
    )
