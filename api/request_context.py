"""Every HTTP request's id (``X-Request-ID``): taken or made, echoed, recorded and logged.

A client's ``X-Request-ID`` is kept when it is sane (1 to ``MAX_LENGTH``
characters of ``[A-Za-z0-9._:/+=@-]``: it lands in every event the request's
command writes and in the logs, so nothing else is copied there); otherwise,
or when there is none, the request gets a fresh ``uuid4().hex``. The id is

- echoed on every response, errors, 413 and 429 included (the middleware is
  the outermost of the app's own);
- the ``request_id`` of ``application.command_metadata`` for the whole
  request, so the events its command writes record it;
- the ``request_id`` of every log record emitted while it is handled
  (``RequestIdLogFilter``; ``-`` outside requests), which the log format of
  ``agentgraph serve`` (``serve_log_config``) prints.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from uuid import uuid4

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application import command_metadata

HEADER = "X-Request-ID"
MAX_LENGTH = 128
_SANE = re.compile(rf"[A-Za-z0-9._:/+=@-]{{1,{MAX_LENGTH}}}")


def request_id_for(sent: str | None) -> str:
    """The client's id when sane, else a new one."""
    if sent is not None and _SANE.fullmatch(sent):
        return sent
    return uuid4().hex


class RequestIdMiddleware:
    """Gives each HTTP request its id: echoed, in the command metadata and the logs (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = [value for name, value in scope["headers"] if name == b"x-request-id"]
        request_id = request_id_for(sent[0].decode("latin-1") if len(sent) == 1 else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def echoing(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):  # a WebSocket's handshake answer
                message["headers"] = list(message.get("headers") or [])
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        with command_metadata.acting(request_id=request_id):
            await self.app(scope, receive, echoing)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every record: the request being handled, else ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = command_metadata.current().request_id or "-"
        return True


def serve_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the request id in every line, and the app's own loggers shown."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"request_id": {"()": RequestIdLogFilter}}
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s [%(request_id)s] %(name)s: %(message)s"
    config["formatters"]["access"]["fmt"] = (
        '%(levelprefix)s [%(request_id)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    )
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["root"] = {"handlers": ["default"], "level": "INFO"}  # the platform's loggers (api.*, adapters.*)
    config["loggers"]["kafka"] = {"level": "WARNING"}
    return config
