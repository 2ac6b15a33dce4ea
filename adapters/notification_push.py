"""Pushes new notifications to their users' sockets once the notifications projection committed them.

The projector (``adapters.projection_runner`` in process, ``adapters.kafka_projector`` from Kafka) calls the
pusher with each batch it committed; the pusher reads the notifications those events gave from the read model
(so only what is committed, and only the types the user wants) and publishes each on the live bus, the same
path as the run updates: in process when embedded, Redis pub/sub to every API process when distributed. The
hub hands it to every WebSocket of that user (``api.live_hub``), as AutoGPT's ``notification`` message:
``{"method": "notification", "channel": null, "data": {"type": <NotificationType>, "event": "created", "id",
"user_id", "created_at", "read", "data": {...}}}``.

Fire and forget, as the run updates: a socket not connected when it is pushed lists it with
``GET /api/notifications``. A batch redelivered to the projector may push a notification again (the client
knows it by its id). A rebuild pushes nothing.
"""

from __future__ import annotations

import logging

from adapters.live_bus import LiveBus
from projections.envelope import EventEnvelope
from projections.executions.live import LiveUpdate
from projections.notifications.projection import notification_ids_of
from projections.notifications.queries import NotificationQueries

log = logging.getLogger(__name__)

CHUNK = 500
"""Notification ids read per query."""


class NotificationPusher:
    """Committed batches -> ``notification`` pushes on ``bus``."""

    def __init__(self, queries: NotificationQueries, bus: LiveBus) -> None:
        self._queries = queries
        self._bus = bus

    def __call__(self, batch: list[EventEnvelope]) -> None:
        """Push what ``batch`` (committed) notified; a failure is logged, never raised to the projector."""
        try:
            ids = notification_ids_of(batch)
            updates = []
            for start in range(0, len(ids), CHUNK):
                for found in self._queries.by_ids(ids[start : start + CHUNK]):
                    payload = {
                        "type": found.type,
                        "event": "created",
                        "id": found.id,
                        "user_id": found.user_id,
                        "created_at": found.created_at,
                        "read": found.read,
                        "data": found.data,
                    }
                    updates.append(LiveUpdate(0, found.user_id, "", "", "notification", payload))
            if updates:
                self._bus.publish(updates)
        except Exception:
            log.exception("pushing the notifications of a batch failed (they are listed all the same)")
