"""A blocking loop in a daemon thread that outlives its failures (the relay, the Kafka consumers).

``run(stop)`` is expected to return once ``stop`` is set; if it raises
before, it is started again after the retry policy's back-off
(``application.retry``), until the worker is stopped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from application.retry import retrying

log = logging.getLogger(__name__)


class BackgroundWorker:
    """Runs ``run(stop_event)`` in a daemon thread, restarting it when it fails (``None``: nothing to run)."""

    def __init__(self, name: str, run: Callable[[threading.Event], None] | None) -> None:
        self._name = name
        self._run = run
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the loop in its thread."""
        if self._run is not None:
            self._thread = threading.Thread(target=self._guarded, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Tell the loop to stop and wait for it (15 s at most)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _guarded(self) -> None:
        assert self._run is not None
        restart = retrying(f"the {self._name} worker", log, self._stop)
        while not self._stop.is_set():
            try:
                restart(self._run, self._stop)
            except Exception:
                if not self._stop.is_set():  # only a stop ends the retrying
                    raise
