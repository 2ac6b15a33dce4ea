"""One error shape for every 4xx/5xx the API answers.

Every error body is JSON ``{"detail": ..., "code": ...}`` plus fields that
belong to the error (``node_errors``/``graph_errors`` for an invalid graph,
``errors`` for an invalid request). ``detail`` stays FastAPI-compatible.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from application.executions import ExecutionNotFoundError
from application.graphs import GraphNotFoundError
from domain.blocks.base import BlockError, BlockInputError
from domain.graph_validation import GraphValidationError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "request_invalid",
    429: "rate_limited",
}


def error_body(status_code: int, detail: Any, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"detail": detail, "code": code or _CODES.get(status_code, "error"), **extra}


def _validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the echoed input (it may be large or secret)."""
    return [{k: v for k, v in err.items() if k not in ("input", "ctx", "url")} for err in errors]


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into structured responses."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, exc.detail),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(list(exc.errors()))
        if any(err.get("type") == "json_invalid" for err in errors):
            return JSONResponse(
                error_body(400, "Request body is not valid JSON", "malformed_json", errors=errors),
                status_code=status.HTTP_400_BAD_REQUEST,
            )
        return JSONResponse(
            jsonable_encoder(error_body(422, "Request is invalid", errors=errors)),
            status_code=422,
        )

    @app.exception_handler(ValidationError)
    async def payload_invalid(_: Request, exc: ValidationError) -> JSONResponse:
        errors = _validation_errors(list(exc.errors()))
        return JSONResponse(
            jsonable_encoder(error_body(422, "Request is invalid", errors=errors)),
            status_code=422,
        )

    @app.exception_handler(GraphValidationError)
    async def graph_invalid(_: Request, exc: GraphValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(400, str(exc), "graph_invalid", **exc.as_dict()),
            status_code=status.HTTP_400_BAD_REQUEST,
        )

    @app.exception_handler(GraphNotFoundError)
    async def graph_not_found(_: Request, exc: GraphNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "graph_not_found"), status_code=404)

    @app.exception_handler(ExecutionNotFoundError)
    async def execution_not_found(_: Request, exc: ExecutionNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "execution_not_found"), status_code=404)

    @app.exception_handler(BlockError)
    async def block_failed(_: Request, exc: BlockError) -> JSONResponse:
        code = "block_input_invalid" if isinstance(exc, BlockInputError) else "block_failed"
        return JSONResponse(
            error_body(400, exc.message, code, block_id=exc.block_id, block_name=exc.block_name),
            status_code=status.HTTP_400_BAD_REQUEST,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body(500, "Internal server error", "internal_error"), status_code=500)
