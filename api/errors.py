"""Every 4xx/5xx the API answers, in AutoGPT's shapes, with our ``code`` as an extra key.

- most errors: ``{"detail": "...", "code": "..."}`` (FastAPI's shape);
- an invalid graph or run (400): ``{"detail": {"type": "validation_error",
  "message", "node_errors", "graph_errors"}, "code": "graph_invalid"}``;
- a request that fails the schema (422): ``{"message": "Invalid data for
  METHOD PATH", "detail": [field errors], "hint": "...", "code": "request_invalid"}``;
  a value over one of the JSON limits (``domain.json_codec``) is one such
  field error of type ``json_limit_exceeded``, naming the ``limit`` and its
  ``maximum``, its ``loc`` the path to the offending value.

An exception no handler turns into one of these is a 500 ``{"detail":
"Internal server error", "code": "internal_error"}``, never a traceback;
``UnhandledErrorMiddleware`` answers it inside the app's middleware, so it
carries the security headers and the request id like any other answer.

The pydantic models below document these bodies in the OpenAPI document
(``ERROR_RESPONSES``); routers declare the statuses they can answer.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.store_busy import MAYBE_BUSY, RETRY_AFTER_SECONDS, is_store_busy
from application.graphs import GraphChangeConflictError
from application.schedules import ScheduleInputUnavailableError
from domain.api_key import ApiKeyRevokedError
from domain.blocks.base import BlockError, BlockInputError
from domain.cron import ScheduleTimeError
from domain.execution import ExecutionNotFinishedError
from domain.graph_validation import GraphValidationError
from domain.json_codec import JSONLimitError
from domain.not_found import ApiKeyNotFoundError, ExecutionNotFoundError, GraphNotFoundError, ScheduleNotFoundError

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    402: "insufficient_balance",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "request_invalid",
    429: "rate_limited",
    503: "store_busy",
}


class ErrorBody(BaseModel):
    """An error: what went wrong (``detail``) and a stable machine-readable ``code``."""

    model_config = ConfigDict(extra="allow")

    detail: Any = Field(description="What went wrong (text, or a structure for validation errors)")
    code: str = Field(description="Stable error code, e.g. graph_not_found, unauthorized, payload_too_large")


class ValidationErrorDetail(BaseModel):
    """Why a graph or a run's inputs were refused, node by node."""

    type: str = Field(description='Always "validation_error"')
    message: str
    node_errors: dict[str, dict[str, str]] = Field(description="node id -> pin -> problem")
    graph_errors: list[str] = Field(default_factory=list, description="Problems not tied to one node")


class InvalidGraphBody(BaseModel):
    """400 for an invalid graph or invalid run inputs: nothing was recorded."""

    detail: ValidationErrorDetail
    code: str


class RequestInvalidBody(BaseModel):
    """422: the request does not match the API schema."""

    message: str = Field(description='"Invalid data for METHOD PATH"')
    detail: list[dict[str, Any]] = Field(description="The field errors (loc, msg, type)")
    hint: str
    code: str


def _doc(model: Any, description: str) -> dict[str, Any]:
    return {"model": model, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc(
        InvalidGraphBody | ErrorBody,
        "Invalid graph or inputs, malformed JSON, a malformed consistency token or one past the log's head",
    ),
    401: _doc(ErrorBody, "Missing, invalid or expired bearer token"),
    402: _doc(ErrorBody, "Credits are enabled and the balance is 0 or less: top up first (nothing was recorded)"),
    403: _doc(ErrorBody, "Authenticated but not allowed"),
    404: _doc(ErrorBody, "No such resource for this user"),
    409: _doc(
        ErrorBody, "Conflicts with the resource's current state (code version_conflict: changed by others meanwhile)"
    ),
    413: _doc(ErrorBody, "Body larger than the configured limit"),
    422: _doc(RequestInvalidBody, "The request does not match the API schema"),
    429: _doc(ErrorBody, "Too many requests"),
    503: {
        **_doc(ErrorBody, "The database is busy or out of connections (code store_busy); retry after Retry-After"),
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
    },
}
"""Every error status the API can answer, with its body model; routers pick theirs."""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these error statuses."""
    return {status_code: ERROR_RESPONSES[status_code] for status_code in statuses}


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
            error_body(exc.status_code, exc.detail, getattr(exc, "code", None)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(list(exc.errors()))
        if any(err.get("type") == "json_invalid" for err in errors):
            return JSONResponse(
                error_body(400, "Request body is not valid JSON", "malformed_json", errors=errors),
                status_code=status.HTTP_400_BAD_REQUEST,
            )
        return _schema_mismatch(request, errors)

    @app.exception_handler(JSONLimitError)
    async def json_limit_exceeded(request: Request, exc: JSONLimitError) -> JSONResponse:
        # raised at the edge, or by the codec while a command stores it: nothing was recorded either way
        error = {
            "type": "json_limit_exceeded",
            "loc": ["body", *exc.path],
            "msg": exc.message,
            "limit": exc.limit,
            "maximum": exc.maximum,
        }
        return _schema_mismatch(request, [error])

    @app.exception_handler(GraphValidationError)
    async def graph_invalid(_: Request, exc: GraphValidationError) -> JSONResponse:
        detail = {"type": "validation_error", "message": str(exc), **exc.as_dict()}
        return JSONResponse(error_body(400, detail, "graph_invalid"), status_code=status.HTTP_400_BAD_REQUEST)

    @app.exception_handler(GraphNotFoundError)
    async def graph_not_found(_: Request, exc: GraphNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "graph_not_found"), status_code=404)

    @app.exception_handler(ExecutionNotFoundError)
    async def execution_not_found(_: Request, exc: ExecutionNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "execution_not_found"), status_code=404)

    @app.exception_handler(ApiKeyNotFoundError)
    async def api_key_not_found(_: Request, exc: ApiKeyNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "api_key_not_found"), status_code=404)

    @app.exception_handler(ScheduleNotFoundError)
    async def schedule_not_found(_: Request, exc: ScheduleNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(404, str(exc), "schedule_not_found"), status_code=404)

    @app.exception_handler(ScheduleTimeError)
    async def schedule_time_invalid(request: Request, exc: ScheduleTimeError) -> JSONResponse:
        return _schema_mismatch(request, [{"type": "schedule_invalid", "loc": ["body", exc.field], "msg": str(exc)}])

    @app.exception_handler(ScheduleInputUnavailableError)
    async def schedule_input_unavailable(request: Request, exc: ScheduleInputUnavailableError) -> JSONResponse:
        return _schema_mismatch(request, [{"type": "schedule_invalid", "loc": ["body", "inputs"], "msg": str(exc)}])

    @app.exception_handler(ApiKeyRevokedError)
    async def api_key_revoked(_: Request, exc: ApiKeyRevokedError) -> JSONResponse:
        return JSONResponse(error_body(409, str(exc), "api_key_revoked"), status_code=409)

    @app.exception_handler(BlockError)
    async def block_failed(_: Request, exc: BlockError) -> JSONResponse:
        code = "block_input_invalid" if isinstance(exc, BlockInputError) else "block_failed"
        return JSONResponse(
            error_body(400, exc.message, code, block_id=exc.block_id, block_name=exc.block_name),
            status_code=status.HTTP_400_BAD_REQUEST,
        )

    @app.exception_handler(ExecutionNotFinishedError)
    async def execution_not_finished(_: Request, exc: ExecutionNotFinishedError) -> JSONResponse:
        return JSONResponse(error_body(409, str(exc), "execution_not_finished"), status_code=status.HTTP_409_CONFLICT)

    @app.exception_handler(GraphChangeConflictError)
    async def version_conflict(_: Request, exc: GraphChangeConflictError) -> JSONResponse:
        return JSONResponse(error_body(409, str(exc), "version_conflict"), status_code=status.HTTP_409_CONFLICT)

    async def store_busy(_: Request, exc: Exception) -> JSONResponse:
        if not is_store_busy(exc):
            raise exc  # a bug, not a busy store: the 500 handler below
        log.warning("store busy: %r", exc)  # a burst or a lock: the client may retry (adapters.store_busy)
        return JSONResponse(
            error_body(503, "The database is busy; retry shortly"),
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for busy_type in MAYBE_BUSY:  # handled here, not by the 500 handler, so the connection stays open
        app.add_exception_handler(busy_type, store_busy)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error(exc)


def unexpected_error(exc: Exception) -> JSONResponse:
    """The 500 of an exception no handler knows: logged with its traceback, answered without it."""
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(error_body(500, "Internal server error", "internal_error"), status_code=500)


class UnhandledErrorMiddleware:
    """Answers an exception that escaped every handler with the structured 500.

    Starlette answers those in ``ServerErrorMiddleware``, outside every
    middleware of the app: the 500 would lack the security headers and the
    request id. Added first (innermost), this answers it where the others
    still see it. Nothing is re-raised: the traceback is logged here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:
                raise  # too late for another answer: the server closes the connection
            await unexpected_error(exc)(scope, receive, send)


def _schema_mismatch(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    """AutoGPT's 422 body."""
    body = {
        "message": f"Invalid data for {request.method} {request.url.path}",
        "detail": errors,
        "hint": "Ensure the request matches the API schema.",
        "code": "request_invalid",
    }
    return JSONResponse(jsonable_encoder(body), status_code=422)
