"""The e-mail deliverer's loop: a round every ``DELIVERY_INTERVAL_SECONDS``, and at once when woken.

It runs in the projector role (``api.bootstrap.ProjectionService``), which wakes it after each batch it
committed, so an IMMEDIATE notification is mailed within a moment and a digest within a round of being due.
Several projector processes may each run one: the per-user aggregate's optimistic concurrency lets one of
them record an e-mail, never two (``application.notifications``).
"""

from __future__ import annotations

import logging
import threading

from adapters.background_worker import BackgroundWorker
from application.notifications import NotificationDeliverer

log = logging.getLogger(__name__)

DELIVERY_INTERVAL_SECONDS = 30.0
"""A round at least this often (batched types fall due with the clock, not with an event)."""

MIN_GAP_SECONDS = 1.0
"""Rounds are at least this far apart, however often the projector wakes the deliverer (a busy pipeline
commits many batches a second; one round reads every pending notification)."""


class NotificationDelivery:
    """Runs ``deliverer`` rounds in a background thread."""

    def __init__(self, deliverer: NotificationDeliverer, interval: float = DELIVERY_INTERVAL_SECONDS) -> None:
        self._deliverer = deliverer
        self._interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread = BackgroundWorker("notification-delivery", self._run)

    def start(self) -> None:
        """Start the rounds."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round under way."""
        self._stopping = True
        self._wake.set()
        self._thread.stop()

    def wake(self) -> None:
        """Run a round now (new notifications were committed)."""
        self._wake.set()

    def _run(self, stop: threading.Event) -> None:
        while not (stop.is_set() or self._stopping):
            self._wake.clear()
            try:
                self._deliverer.run_once()
            except Exception:
                log.exception("a notification delivery round failed: again next round")
            if stop.wait(MIN_GAP_SECONDS) or self._stopping:
                return
            self._wake.wait(self._interval)
