"""``last_used_at`` of API keys without a database write per request.

Each authenticated request only notes, in memory, that its key was used and
when (``touch``: a dict assignment under a lock). At most once every
``interval`` seconds, the first request past the interval hands the noted
uses to a background thread that records them as one ``ApiKey.Used`` event
per key (``AccountsApplication.record_api_key_uses``); ``flush`` at shutdown
records the rest. So a key used 1,000 times a second costs one event per
interval, and ``last_used_at`` lags real use by at most the interval (plus
the projection's lag). A process that dies loses at most one interval of
"last used" times, never anything else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from uuid import UUID

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60.0


class ApiKeyUsage:
    """The uses noted since the last flush, and when to flush them."""

    def __init__(
        self,
        record: Callable[[Mapping[UUID, str]], None],
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[UUID, str] = {}
        self._last_flush = clock()

    def touch(self, key_id: UUID, executor: Executor | None = None) -> None:
        """Note a use of ``key_id`` now; past the interval, flush in ``executor`` (else right here)."""
        now = datetime.now(UTC).isoformat()
        with self._lock:
            self._pending[key_id] = now
            due = self._clock() - self._last_flush >= self._interval
            if due:
                self._last_flush = self._clock()
        if due:
            if executor is None:
                self.flush()
            else:
                executor.submit(self.flush)

    def flush(self) -> None:
        """Record every noted use (one event per key); a failure is logged and the uses are dropped."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            self._record(pending)
        except Exception:  # last-used times are advisory: never fail a request or a shutdown for them
            log.warning("could not record the last use of %d API key(s)", len(pending), exc_info=True)
