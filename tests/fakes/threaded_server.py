"""What the local fake servers share: serving in a thread, stopping at once, a free port."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeServerThread:
    """Start/stop/context-manager/port for a fake server dataclass.

    The subclass is a dataclass with fields ``host``, ``_stopping``, ``_httpd``
    and ``_thread``, and class attributes ``handler`` (the request handler)
    and ``server_class`` (a ``ThreadingHTTPServer`` whose ``fake`` attribute
    points back at the fake).
    """

    handler: type[BaseHTTPRequestHandler]
    server_class: type[ThreadingHTTPServer]
    thread_name: str = "fake-server"
    host: str
    _stopping: threading.Event
    _httpd: Any
    _thread: threading.Thread | None

    def start(self) -> Self:
        httpd = self.server_class((self.host, 0), self.handler)
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed requests in flight are dropped at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])
