"""uvicorn's HTTP/1.1 protocol with a deadline for receiving each request.

uvicorn closes a keep-alive connection that is idle after a response
(``timeout_keep_alive``), but nothing else: a connection that sends nothing
after opening, headers a byte at a time, or a body slower than it declared
holds its socket (and, for a body, a request task) for as long as the
client likes. Here every request must arrive in full - headers and body -
within ``AGENTGRAPH_REQUEST_READ_TIMEOUT_SECONDS`` of the connection opening
or of its first byte; otherwise the server answers 408 (when nothing was
answered yet) and closes the connection. Once a request has arrived the
deadline is off: a slow handler is never cut short by it.

Built on uvicorn's httptools protocol (the C parser: a tenth of a query's CPU
less than the pure-Python h11 one); ``agentgraph serve`` passes it as
``uvicorn.run(http=...)``.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _timeout_response(seconds: float) -> bytes:
    body = json.dumps({"detail": f"Request not received within {seconds:g} s", "code": "request_timeout"}).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class RequestDeadlineProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that closes a connection whose request does not arrive in time (module docstring)."""

    read_timeout_seconds = 30.0
    """Set by ``with_request_deadline``."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock: a connection that never sends a request is closed too."""
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        """A request's first byte: start the clock (unless it runs already, from the connection's opening)."""
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_message_complete(self) -> None:
        """The request arrived in full: stop the clock; the handler takes the time it needs."""
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        """A WebSocket keeps the connection for as long as it lives: no deadline from here on."""
        self._disarm()
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout_seconds, self._request_timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _request_timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # ``cycle`` is the latest request whose headers arrived: none yet, one done (the late request is a new
        # one), or this one with its body still coming; in each case nothing was answered to the late request
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_timeout_response(self.read_timeout_seconds))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # a handler waiting for the rest of the body reads a disconnect
            self.cycle.message_event.set()
        self.transport.close()


def with_request_deadline(seconds: float) -> type[RequestDeadlineProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this read deadline."""
    return type("RequestDeadlineProtocol", (RequestDeadlineProtocol,), {"read_timeout_seconds": seconds})
