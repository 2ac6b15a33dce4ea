"""Who is subscribed to what in this API process, and the fan-out of live updates to them.

A ``LiveClient`` is one socket (WebSocket or Server-Sent Events stream): a
bounded queue of frames to send and its subscriptions, keyed by AutoGPT's
channel keys (``<user>|graph_exec#<id>``, ``<user>|graph#<id>|executions``),
which embed the user: a client only ever gets its own user's updates.

Every update carries the log position of the event it came from. Each
subscription remembers the last one it sent, and skips anything at or
below it: a duplicate (two notifiers, a replay overlapping the live stream)
is never sent twice.

Resume (beyond AutoGPT): a subscribe naming the last position the client
saw is handed over in three steps, all but the middle one in the event loop,
so no update slips between them:
1. the subscription is registered at once, buffering live updates;
2. the run's stored events are replayed (read in a thread) from the event
   store through the same mapping the notifier uses, and those after the
   client's position are sent;
3. the buffer is drained (what the replay already sent is skipped by
   position) and the subscription goes live.

Limits: subscriptions per client, frames queued per client (a client whose
queue is full is dropped, the others never wait for it), and time: a client
whose burst of frames the network has not taken within
``SEND_TIMEOUT_SECONDS`` is dropped. One watchdog per process checks every
client (not a timer per send or per socket: fanning an update out to a
thousand sockets arms nothing, and a thousand idle sockets wake nothing).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from projections.envelope import EventEnvelope
from projections.executions.live import LiveUpdate, replay

log = logging.getLogger(__name__)

History = Callable[[str], list[EventEnvelope]]
"""A run's stored events, oldest first (``EventLog.history``)."""

_RANK = {"node": 0, "graph": 1}
"""One event may give a node update then a graph update: their order at one position."""


def execution_channel(user_id: str, execution_id: str) -> str:
    """AutoGPT's channel key of one run's updates."""
    return f"{user_id}|graph_exec#{execution_id}"


def graph_channel(user_id: str, graph_id: str) -> str:
    """AutoGPT's channel key of the run updates of every run of one graph."""
    return f"{user_id}|graph#{graph_id}|executions"


@dataclass(frozen=True)
class Frame:
    """One message to send: the WebSocket text, and what an SSE stream needs besides."""

    position: int
    method: str
    text: str
    final: bool = False


SEND_TIMEOUT_SECONDS = 10.0
"""A burst of frames the client's network does not take within this long drops the client."""

MAX_PUSH_BYTES = 16 * 1024 * 1024
"""AutoGPT's ``max_message_size_limit``: a larger update is dropped (AutoGPT replaces it with an
``error_comms_update`` its WebSocket layer drops), live and in a replay alike."""


def notification_frame(update: LiveUpdate) -> Frame:
    """AutoGPT's ``notification`` push: no channel (every socket of the user gets it, no subscription needed)."""
    body = {"method": "notification", "data": update.data, "success": None, "channel": None, "error": None}
    return Frame(update.position, "notification", json.dumps(body, separators=(",", ":")))


def frame(channel: str, update: LiveUpdate) -> Frame:
    """AutoGPT's push envelope (all five keys) plus ``position``, the log position it came from."""
    method = "node_execution_event" if update.kind == "node" else "graph_execution_event"
    body = {
        "method": method,
        "data": update.data,
        "success": None,
        "channel": channel,
        "error": None,
        "position": update.position,
    }
    return Frame(update.position, method, json.dumps(body, separators=(",", ":")), update.final)


@dataclass
class _Subscription:
    last: tuple[int, int] = (0, -1)
    buffer: list[tuple[LiveUpdate, Frame]] | None = None


class TooManySubscriptionsError(Exception):
    """The client holds as many subscriptions as it may."""


@dataclass(eq=False)  # one client is one connection: compared (and hashed) by identity
class LiveClient:
    """One connected client: its user, subscriptions and outgoing queue."""

    user_id: str
    max_queue: int
    max_subscriptions: int
    notifications: bool = True
    """Gets the user's ``notification`` pushes (a WebSocket); an SSE stream of one run does not."""
    queue: asyncio.Queue[Frame] = field(init=False)
    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the client is too slow (``drop_reason`` says how): its connection closes it."""
    drop_reason: str = ""
    sending_since: float | None = None
    """The event loop's time when the burst of frames being sent now began (None: not sending)."""

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.max_queue)

    def push(self, channel: str, update: LiveUpdate, message: Frame, *, replaying: bool = False) -> None:
        """Queue ``message`` unless already sent on ``channel`` (buffer it while the channel replays)."""
        sub = self.subscriptions.get(channel)
        if sub is None or self.dropped.is_set() or len(message.text) > MAX_PUSH_BYTES:
            return
        if sub.buffer is not None and not replaying:
            sub.buffer.append((update, message))
            return
        key = (update.position, _RANK[update.kind])
        if key <= sub.last:
            return
        sub.last = key
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.drop("Client too slow: outgoing queue full")

    def notify(self, message: Frame) -> None:
        """Queue a notification (no subscription needed; a client whose queue is full is dropped)."""
        if self.dropped.is_set() or len(message.text) > MAX_PUSH_BYTES:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.drop("Client too slow: outgoing queue full")

    def drop(self, reason: str) -> None:
        """Mark the client too slow to keep (its connection closes it with 1013 and ``reason``)."""
        if not self.dropped.is_set():
            self.drop_reason = reason
            self.dropped.set()


class LiveHub:
    """The subscriptions of this process's clients, fed with every live update the bus delivers."""

    def __init__(self, history: History) -> None:
        self._history = history
        self._channels: dict[str, set[LiveClient]] = {}
        self._clients: set[LiveClient] = set()
        self._per_user: dict[str, int] = {}
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def connections(self) -> int:
        """Clients connected now (the ``websocket_connections`` gauge reads this)."""
        return len(self._clients)

    def connections_of(self, user_id: str) -> int:
        """How many clients of ``user_id`` are connected to this process."""
        return self._per_user.get(user_id, 0)

    def connect(self, client: LiveClient) -> None:
        """Count a new client."""
        self._clients.add(client)
        self._per_user[client.user_id] = self._per_user.get(client.user_id, 0) + 1
        log.debug("a live-updates client connected (%d now)", self.connections)
        loop = asyncio.get_running_loop()
        if self._watchdog is None or self._watchdog.get_loop() is not loop:  # (a test's loop may have ended)
            self._watchdog = loop.create_task(self._watch_sends())

    async def _watch_sends(self) -> None:
        """While clients are connected: drop each whose burst of sends has been going on too long."""
        clock = asyncio.get_running_loop().time
        while self._clients:
            await asyncio.sleep(SEND_TIMEOUT_SECONDS / 4)
            now = clock()
            for client in list(self._clients):
                began = client.sending_since
                if began is not None and now - began > SEND_TIMEOUT_SECONDS:
                    client.drop("Client too slow: send timed out")
        self._watchdog = None  # no await since the check: a client connecting now starts a new one

    def disconnect(self, client: LiveClient) -> None:
        """Forget the client and every subscription it held."""
        if client in self._clients:
            left = self._per_user[client.user_id] - 1
            if left:
                self._per_user[client.user_id] = left
            else:
                del self._per_user[client.user_id]
        self._clients.discard(client)
        for channel in client.subscriptions:
            members = self._channels.get(channel)
            if members is not None:
                members.discard(client)
                if not members:
                    del self._channels[channel]
        client.subscriptions.clear()

    def deliver(self, update: LiveUpdate) -> None:
        """Fan one update out to the clients subscribed to its channels (each frame serialised once).

        A notification goes to every client of its user, whatever they subscribed to.
        """
        if update.kind == "notification":
            clients = [c for c in self._clients if c.user_id == update.user_id and c.notifications]
            if clients:
                message = notification_frame(update)
                for client in clients:
                    client.notify(message)
            return
        channels = [execution_channel(update.user_id, update.execution_id)]
        if update.kind == "graph":
            channels.append(graph_channel(update.user_id, update.graph_id))
        for channel in channels:
            members = self._channels.get(channel)
            if members:
                message = frame(channel, update)
                for client in list(members):
                    client.push(channel, update, message)

    def history(self, execution_id: str) -> list[EventEnvelope]:
        """The run's stored events, oldest first (blocking: call it in a thread)."""
        return self._history(execution_id)

    def owner(self, execution_id: str) -> str | None:
        """The user who requested the run (read from the event store; None if there is no such run)."""
        history = self._history(execution_id)
        return str(history[0].data.get("user_id")) if history else None

    def subscribe(self, client: LiveClient, channel: str) -> None:
        """Subscribe ``client`` to ``channel`` live (idempotent)."""
        if channel not in client.subscriptions:
            if len(client.subscriptions) >= client.max_subscriptions:
                raise TooManySubscriptionsError(f"At most {client.max_subscriptions} subscriptions per connection")
            client.subscriptions[channel] = _Subscription()
            self._channels.setdefault(channel, set()).add(client)

    async def subscribe_from(self, client: LiveClient, execution_id: str, after: int) -> str:
        """Subscribe to one run, first replaying its updates after position ``after``; returns the channel."""
        channel = execution_channel(client.user_id, execution_id)
        self.subscribe(client, channel)
        sub = client.subscriptions[channel]
        sub.buffer = []
        sub.last = max(sub.last, (after, len(_RANK) - 1))
        try:
            history = await asyncio.to_thread(self._history, execution_id)
            for update in replay(history, after):
                client.push(channel, update, frame(channel, update), replaying=True)
        finally:
            buffered, sub.buffer = sub.buffer or [], None
            for update, message in buffered:
                client.push(channel, update, message)
        return channel

    def unsubscribe(self, client: LiveClient, channel: str) -> bool:
        """Leave ``channel``; False if the client was not subscribed to it."""
        if client.subscriptions.pop(channel, None) is None:
            return False
        members = self._channels.get(channel)
        if members is not None:
            members.discard(client)
            if not members:
                del self._channels[channel]
        return True
