"""The live-updates hub without sockets: fan-out, the resume handover, a slow client dropped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.live_hub import LiveClient, LiveHub, execution_channel, graph_channel
from domain.event_types import type_name
from domain.execution import GraphExecution
from projections.envelope import EventEnvelope
from projections.executions.live import LiveRuns, LiveUpdate

RUN = "11111111-1111-4111-8111-111111111111"
GRAPH = "22222222-2222-4222-8222-222222222222"


def _event(position: int, kind: type, **data: Any) -> EventEnvelope:
    return EventEnvelope(
        id=f"{RUN}:{position}",
        type=type_name(kind),
        context="executions",
        aggregate_id=RUN,
        aggregate_version=position,
        position=position,
        timestamp=f"2026-01-01T00:00:{position:02d}Z",
        data=data,
    )


def _run(nodes: int) -> list[EventEnvelope]:
    """A run of ``nodes`` node executions, each queued, started and completed."""
    events = [
        _event(1, GraphExecution.Requested, graph_id=GRAPH, graph_version=1, user_id="alice", inputs={}),
        _event(2, GraphExecution.Queued),
        _event(3, GraphExecution.Started, executor_id="e1"),
    ]
    for n in range(nodes):
        node = {"node_exec_id": f"ne{n}"}
        events.append(_event(len(events) + 1, GraphExecution.NodeExecutionQueued, **node, node_id=f"n{n}",
                             block_id="b", input_data={"x": n}))  # fmt: skip
        events.append(_event(len(events) + 1, GraphExecution.NodeExecutionStarted, **node))
        events.append(_event(len(events) + 1, GraphExecution.NodeExecutionCompleted, **node, stats={}))
    events.append(_event(len(events) + 1, GraphExecution.Completed, stats={"duration": 1.0}))
    return events


def _updates(events: list[EventEnvelope]) -> list[LiveUpdate]:
    runs = LiveRuns()
    return [update for event in events for update in runs.updates(event)]


def _positions(client: LiveClient) -> list[int]:
    found = []
    while not client.queue.empty():
        found.append(client.queue.get_nowait().position)
    return found


def test_every_event_of_a_run_gives_one_update_in_autogpt_shapes() -> None:
    updates = _updates(_run(3))
    assert [u.position for u in updates] == list(range(2, 14))
    assert updates[-1].final and updates[-1].data["status"] == "COMPLETED"
    assert updates[-1].data["event_type"] == "graph_execution_update" and updates[-1].data["ended_at"]
    node = updates[2].data
    assert node["event_type"] == "node_execution_update" and node["status"] == "QUEUED"
    assert node["graph_exec_id"] == RUN and node["input_data"] == {"x": 0}


async def test_resume_replays_then_drains_live_updates_with_no_gap_and_no_duplicate() -> None:
    events = _run(5)
    updates = _updates(events)
    stored = 8  # what the store holds when the replay reads it; the rest arrives live meanwhile
    loop = asyncio.get_running_loop()
    hub: LiveHub

    def history(_: str) -> list[EventEnvelope]:
        # live updates arrive while the replay reads: some it also reads (overlap), some after it
        for update in updates:
            if update.position > 4:
                loop.call_soon_threadsafe(hub.deliver, update)
        return events[:stored]

    hub = LiveHub(history)
    client = LiveClient("alice", 100, 10)
    hub.connect(client)
    await hub.subscribe_from(client, RUN, after=4)
    await asyncio.sleep(0.05)  # the deliveries scheduled from the replay's thread
    assert _positions(client) == list(range(5, len(events) + 1))


async def test_updates_reach_only_their_users_channels() -> None:
    hub = LiveHub(lambda _: [])
    alice, bob = LiveClient("alice", 100, 10), LiveClient("bob", 100, 10)
    for client in (alice, bob):
        hub.connect(client)
        hub.subscribe(client, execution_channel(client.user_id, RUN))
        hub.subscribe(client, graph_channel(client.user_id, GRAPH))
    for update in _updates(_run(1)):
        hub.deliver(update)
    assert len(_positions(alice)) == 2 * 3 + 3  # node updates once, graph updates once per channel
    assert _positions(bob) == []


async def test_a_client_that_falls_behind_is_dropped_and_the_others_get_everything() -> None:
    hub = LiveHub(lambda _: [])
    slow, fast = LiveClient("alice", 2, 10), LiveClient("alice", 100, 10)
    for client in (slow, fast):
        hub.connect(client)
        hub.subscribe(client, execution_channel("alice", RUN))
    updates = _updates(_run(2))
    for update in updates:
        hub.deliver(update)
    assert slow.dropped.is_set() and not fast.dropped.is_set()
    assert _positions(fast) == [u.position for u in updates]
    hub.disconnect(slow)
    assert hub.connections == 1


async def test_one_watchdog_drops_a_client_whose_sends_hang_and_ends_with_the_last_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("api.live_hub.SEND_TIMEOUT_SECONDS", 0.04)
    hub = LiveHub(lambda _: [])
    stuck, idle = LiveClient("alice", 100, 10), LiveClient("bob", 100, 10)
    for client in (stuck, idle):
        hub.connect(client)
    stuck.sending_since = asyncio.get_running_loop().time()  # a burst the network never takes
    await asyncio.wait_for(stuck.dropped.wait(), timeout=5)
    assert stuck.drop_reason == "Client too slow: send timed out"
    assert not idle.dropped.is_set()  # not sending: nothing to time out
    for client in (stuck, idle):
        hub.disconnect(client)
    watchdog = hub._watchdog
    assert watchdog is not None
    await asyncio.wait_for(watchdog, timeout=5)  # no client left: the watchdog ends
    assert hub._watchdog is None
