"""Notifications in the hub: every WebSocket of their user gets them without subscribing; no one else's, and
no SSE stream of one run; they travel between processes as any live update does."""

from __future__ import annotations

import json

from api.live_hub import LiveClient, LiveHub
from projections.executions.live import LiveUpdate


def _texts(client: LiveClient) -> list[dict[str, object]]:
    found = []
    while not client.queue.empty():
        found.append(json.loads(client.queue.get_nowait().text))
    return found


async def test_a_notification_reaches_every_socket_of_its_user_only() -> None:
    hub = LiveHub(lambda _: [])
    alice_tab, alice_phone, bob = LiveClient("alice", 10, 5), LiveClient("alice", 10, 5), LiveClient("bob", 10, 5)
    alice_stream = LiveClient("alice", 10, 1, notifications=False)  # an SSE stream of one run
    for client in (alice_tab, alice_phone, bob, alice_stream):
        hub.connect(client)
    payload = {"type": "LOW_BALANCE", "event": "created", "id": "n1", "data": {"current_balance": 499}}
    update = LiveUpdate(0, "alice", "", "", "notification", payload)
    hub.deliver(LiveUpdate.from_json(json.loads(json.dumps(update.as_json()))))  # as it arrives through Redis
    expected = {"method": "notification", "data": payload, "success": None, "channel": None, "error": None}
    assert _texts(alice_tab) == [expected] and _texts(alice_phone) == [expected]
    assert _texts(bob) == [] and _texts(alice_stream) == []
    for client in (alice_tab, alice_phone, bob, alice_stream):
        hub.disconnect(client)
