"""Live updates: AutoGPT's ``/ws`` protocol (v2), and the run's events as Server-Sent Events.

``/ws?token=<JWT>`` speaks AutoGPT's protocol message by message: the
envelope, ``subscribe_graph_execution``, ``subscribe_graph_executions``,
``unsubscribe``, ``heartbeat``, the acks, the error replies and the close
codes of a bad token (4001, 4002, 4003: the socket is closed before it is
accepted, so the client's handshake is refused, as AutoGPT's is).
Subscribing to a run that is not the user's gets no reply at all, as
AutoGPT's newest server: nothing tells it from a run that does not exist.

Beyond AutoGPT (additions; an AutoGPT client never notices them):
- every pushed message carries ``position``, the log position of the event
  it came from;
- ``subscribe_graph_execution`` may carry ``last_position``: the updates of
  that run after it are replayed from the event store first, then it goes
  live, with no gap and no duplicate (``api.live_hub``);
- limits, each with its own close code or error reply: a user's connection
  past ``AGENTGRAPH_WS_MAX_CONNECTIONS_PER_USER`` (to this API process) is
  closed with 1013 at once, so one user cannot hold the sockets, memory and
  fan-out time every other user's updates need; a frame over
  ``AGENTGRAPH_WS_MAX_MESSAGE_BYTES`` closes with 1009; more than
  ``AGENTGRAPH_WS_MAX_SUBSCRIPTIONS`` subscriptions get an error reply; a
  client that lets ``AGENTGRAPH_WS_QUEUE_SIZE`` frames pile up is closed with
  1013 (the others never wait for it); no message within
  ``AGENTGRAPH_WS_IDLE_TIMEOUT_SECONDS`` closes with 4008 (AutoGPT's
  frontend sends a heartbeat every 100 s).

``GET /api/executions/{id}/events`` streams one run's updates as SSE: each
event's ``id`` is its log position, ``event`` the AutoGPT method and
``data`` the same message as on the WebSocket. It replays the run from the
start (or after ``Last-Event-ID``), then follows it live and ends after the
run's final update. Another user's run answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from adapters.prometheus_metrics import PlatformMetrics
from api.auth import CurrentUser, decode_token
from api.composition import Container
from api.errors import responses
from api.ids import ExecutionId
from api.live_hub import (
    SEND_TIMEOUT_SECONDS,
    Frame,
    LiveClient,
    LiveHub,
    TooManySubscriptionsError,
    execution_channel,
    graph_channel,
)
from domain.event_types import type_name
from domain.execution import RUN_ENDINGS, GraphExecution
from domain.not_found import ExecutionNotFoundError

log = logging.getLogger(__name__)

router = APIRouter()

MAX_ID_CHARS = 128
SSE_KEEPALIVE_SECONDS = 15.0

_ENDED = frozenset(type_name(ending) for ending in RUN_ENDINGS)
_DELETED = type_name(GraphExecution.Deleted)


class WSMethod(enum.StrEnum):
    """AutoGPT's ``WSMethod`` (v2)."""

    SUBSCRIBE_GRAPH_EXEC = "subscribe_graph_execution"
    SUBSCRIBE_GRAPH_EXECS = "subscribe_graph_executions"
    UNSUBSCRIBE = "unsubscribe"
    GRAPH_EXECUTION_EVENT = "graph_execution_event"
    NODE_EXECUTION_EVENT = "node_execution_event"
    NOTIFICATION = "notification"
    ERROR = "error"
    HEARTBEAT = "heartbeat"


class WSMessage(BaseModel):
    """AutoGPT's envelope, both directions."""

    method: WSMethod
    data: dict[str, Any] | list[Any] | str | None = None
    success: bool | None = None
    channel: str | None = None
    error: str | None = None


class WSSubscribeGraphExecutionRequest(BaseModel):
    """``subscribe_graph_execution`` / ``unsubscribe`` data; ``last_position`` is ours (resume)."""

    graph_exec_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    last_position: int | None = Field(default=None, ge=0, le=2**63 - 1)


class WSSubscribeGraphExecutionsRequest(BaseModel):
    """``subscribe_graph_executions`` data."""

    graph_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)


HEARTBEAT_REPLY = '{"method":"heartbeat","data":"pong","success":true}'


def _reply(method: WSMethod, *, channel: str | None = None, error: str | None = None) -> str:
    return WSMessage(method=method, success=error is None, channel=channel, error=error).model_dump_json()


def _error(text: str) -> str:
    return _reply(WSMethod.ERROR, error=text)


def hub_of(app: Any) -> LiveHub:
    """The running app's hub."""
    hub: LiveHub = app.state.live_hub
    return hub


@router.websocket("/ws")
async def live_updates(websocket: WebSocket, token: str | None = None) -> None:
    """AutoGPT's live-updates socket."""
    container: Container = websocket.app.state.container
    settings = container.settings
    if not token:
        await websocket.close(code=4001, reason="Missing authentication token")
        return
    try:
        claims = decode_token(token, container.jwt)
    except HTTPException as error:
        await websocket.close(code=4002 if "'sub'" in str(error.detail) else 4003, reason="Invalid token")
        return
    await websocket.accept()
    hub = hub_of(websocket.app)
    user_id = str(claims["sub"])
    if hub.connections_of(user_id) >= settings.ws_max_connections_per_user:
        # accepted first, so that the client reads why (a refused handshake only says 403)
        await websocket.close(code=1013, reason=f"At most {settings.ws_max_connections_per_user} connections per user")
        return
    metrics: PlatformMetrics = websocket.app.state.metrics
    client = LiveClient(user_id, settings.ws_queue_size, settings.ws_max_subscriptions)
    hub.connect(client)
    metrics.websocket_connected()
    lock = asyncio.Lock()
    tasks = [
        asyncio.create_task(_receive(websocket, hub, client, lock)),
        asyncio.create_task(_send(websocket, client, lock)),
        asyncio.create_task(client.dropped.wait()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        code: int | None = None
        reason = ""
        for task in done:
            result = task.result()
            if isinstance(result, tuple):
                code, reason = result
        if client.dropped.is_set():
            code, reason = 1013, client.drop_reason
    finally:
        hub.disconnect(client)
        metrics.websocket_disconnected()
        for task in tasks:
            task.cancel()  # they end at the loop's next turn; nothing of theirs is awaited after a disconnect
    if code is not None:
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await websocket.close(code=code, reason=reason)


async def _receive(
    websocket: WebSocket, hub: LiveHub, client: LiveClient, lock: asyncio.Lock
) -> tuple[int, str] | None:
    """Read and answer messages until the client leaves (None) or must be closed (its code and reason)."""
    settings = websocket.app.state.container.settings
    while True:
        try:
            async with asyncio.timeout(settings.ws_idle_timeout_seconds):
                message = await websocket.receive()
        except TimeoutError:
            return 4008, "Idle timeout: no message received"
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            if len(raw) > settings.ws_max_message_bytes:
                return 1009, "Message too big"
            text = raw.decode("utf-8", errors="replace")
        if len(text.encode()) > settings.ws_max_message_bytes:
            return 1009, "Message too big"
        try:
            reply = await handle_message(hub, client, text)
        except Exception:  # AutoGPT: any other failure in a handler is logged and swallowed, the socket stays
            log.exception("a live-updates message failed")
            reply = None
        if reply is not None:
            async with lock, asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await websocket.send_text(reply)


async def _send(websocket: WebSocket, client: LiveClient, lock: asyncio.Lock) -> None:
    """Send queued frames in order, every frame already queued in one go (a run's updates come in bursts).

    No timer per send: ``client.sending_since`` marks a burst in progress, and the hub's one watchdog drops
    a client whose burst the network has not taken within ``SEND_TIMEOUT_SECONDS`` (``api.live_hub``).
    Fanning an update out to a thousand sockets then costs one wake-up of this task per socket and the
    socket writes, not a timer armed and cancelled per frame.
    """
    queue = client.queue
    clock = asyncio.get_running_loop().time
    while True:
        burst = [await queue.get()]
        while not queue.empty():
            burst.append(queue.get_nowait())
        async with lock:
            client.sending_since = clock()
            for message in burst:
                await websocket.send_text(message.text)
            client.sending_since = None


async def handle_message(hub: LiveHub, client: LiveClient, text: str) -> str | None:
    """The reply to one client message (None: no reply), as AutoGPT's server answers."""
    try:
        message = WSMessage.model_validate_json(text)
    except ValidationError:
        return _error("Invalid message format. Review the schema and retry")
    method = message.method
    if method == WSMethod.HEARTBEAT:
        return HEARTBEAT_REPLY
    if method == WSMethod.ERROR:
        log.info("a live-updates client sent an error: %.200s", message.error)
        return None
    if method not in (WSMethod.SUBSCRIBE_GRAPH_EXEC, WSMethod.SUBSCRIBE_GRAPH_EXECS, WSMethod.UNSUBSCRIBE):
        return _error("Message type is not processed by the server")
    if not message.data:
        return _error("Subscription data missing")
    try:
        if method == WSMethod.SUBSCRIBE_GRAPH_EXECS:
            graph = WSSubscribeGraphExecutionsRequest.model_validate(message.data)
        else:
            run = WSSubscribeGraphExecutionRequest.model_validate(message.data)
    except ValidationError:
        return _error("Invalid message data. Refer to the API schema")
    if method != WSMethod.SUBSCRIBE_GRAPH_EXECS:
        run.graph_exec_id = _canonical(run.graph_exec_id)
    try:
        if method == WSMethod.SUBSCRIBE_GRAPH_EXECS:
            channel = graph_channel(client.user_id, graph.graph_id)
            hub.subscribe(client, channel)
            return _reply(method, channel=channel)
        if method == WSMethod.UNSUBSCRIBE:
            channel = execution_channel(client.user_id, run.graph_exec_id)
            left = hub.unsubscribe(client, channel)
            return _reply(method, channel=channel if left else None)
        if await asyncio.to_thread(_owner, hub, run.graph_exec_id) != client.user_id:
            # AutoGPT's newest server: "graph_exec #<id> not found for user", logged only: no reply
            log.info("graph_exec #%.128s not found for user #%s", run.graph_exec_id, client.user_id)
            return None
        if run.last_position is None:
            channel = execution_channel(client.user_id, run.graph_exec_id)
            hub.subscribe(client, channel)
            return _reply(method, channel=channel)
        # the ack is queued ahead of the replay: the client sees it before the updates it missed
        ack = _reply(method, channel=execution_channel(client.user_id, run.graph_exec_id))
        client.queue.put_nowait(_ack_frame(ack))
        await hub.subscribe_from(client, run.graph_exec_id, run.last_position)
        return None
    except TooManySubscriptionsError as error:
        return _error(str(error))


def _ack_frame(text: str) -> Frame:
    return Frame(0, "ack", text)


def _canonical(run_id: str) -> str:
    """A run id in its canonical spelling (the one channel keys use); left as sent if it is no UUID."""
    try:
        return str(UUID(run_id))
    except ValueError:
        return run_id


def _owner(hub: LiveHub, execution_id: str) -> str | None:
    try:
        return hub.owner(execution_id)
    except ValueError:  # not a run id at all
        return None


@router.get(
    "/api/executions/{execution_id}/events",
    summary="Stream a run's live updates (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={**responses(401, 404), 200: {"content": {"text/event-stream": {}}}},
)
async def execution_events(
    execution_id: ExecutionId,
    user: CurrentUser,
    request: Request,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=20, pattern=r"^\s*[0-9]*\s*$")
    ] = None,
) -> StreamingResponse:
    """The run's updates from the start (or after ``Last-Event-ID``, a log position), then live, until it ends."""
    after = 0
    if last_event_id is not None and last_event_id.strip():
        after = int(last_event_id.strip())
    hub = hub_of(request.app)
    history = await asyncio.to_thread(hub.history, str(execution_id))
    if not history or str(history[0].data.get("user_id")) != user.user_id:
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")
    if any(event.type == _DELETED for event in history):  # a deleted run is gone for its owner too
        raise ExecutionNotFoundError(f"Execution {execution_id} not found")
    ended_at = next((event.position for event in reversed(history) if event.type in _ENDED), None)
    settings = request.app.state.container.settings
    client = LiveClient(user.user_id, settings.ws_queue_size, 1, notifications=False)
    return StreamingResponse(
        _sse(hub, client, str(execution_id), after, ended_at),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(
    hub: LiveHub, client: LiveClient, execution_id: str, after: int, ended_at: int | None
) -> AsyncIterator[str]:
    hub.connect(client)
    try:
        if ended_at is not None and ended_at <= after:
            return  # nothing after what the client has, and nothing more will come
        await hub.subscribe_from(client, execution_id, after)
        while not client.dropped.is_set():
            try:
                async with asyncio.timeout(SSE_KEEPALIVE_SECONDS):
                    message = await client.queue.get()
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            yield f"id: {message.position}\nevent: {message.method}\ndata: {message.text}\n\n"
            if message.final:
                return
    finally:
        hub.disconnect(client)
