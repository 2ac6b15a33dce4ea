"""Stop, timeouts, the per-user cap, sub-agents, resuming and duplicate executors."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from api.bootstrap import ExecutorService
from application.executor import ExecutorConfig
from domain.execution import GraphExecution
from tests.unit.engine.harness import (
    AGENT_EXECUTOR,
    CALCULATOR,
    INPUT,
    OUTPUT,
    SLEEP,
    Platform,
    SleepBlock,
    link,
    node,
    resumes_of,
    start_platform,
)

FILL_TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"


def sleeper_graph(platform: Platform, seconds: float, name: str = "sleepy") -> str:
    return platform.add_graph(
        [
            node("in", INPUT, name="x"),
            node("nap", SLEEP, seconds=seconds),
            node("after", CALCULATOR, operation="Add", b=1),
            node("out", OUTPUT, name="y"),
        ],
        [
            link("in", "result", "nap", "value"),
            link("nap", "output", "after", "a"),
            link("after", "result", "out", "value"),
        ],
        name=name,
    )


async def test_stop_while_a_block_sleeps_terminates_within_a_second(platform: Platform) -> None:
    graph = sleeper_graph(platform, seconds=30)
    execution_id = platform.request(graph, {"x": 1})
    await platform.wait(execution_id, statuses=("RUNNING",))
    while not any(n.node_id == "nap" and n.status == "RUNNING" for n in (await _load(platform, execution_id))):
        await asyncio.sleep(0.01)
    asked = time.monotonic()
    await asyncio.to_thread(platform.container.executions.request_stop, platform.user, execution_id)
    stopped = await platform.wait(execution_id, timeout=5)
    took = time.monotonic() - asked
    assert stopped.status == "TERMINATED"
    assert took < 1.0, f"stop took {took:.2f}s"
    statuses = {n.node_id: n.status for n in stopped.node_executions.values()}
    assert statuses["in"] == "COMPLETED"
    assert statuses["nap"] == "TERMINATED"
    assert "after" not in statuses  # never reached
    assert stopped.outputs == {}


async def _load(platform: Platform, execution_id: UUID) -> list[Any]:
    execution = await asyncio.to_thread(platform.container.executions.load, execution_id)
    assert execution is not None
    return list(execution.node_executions.values())


async def test_stopping_a_queued_run_ends_it_at_once(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_running_per_user=1)):
        graph = sleeper_graph(platform, seconds=30)
        first = platform.request(graph, {"x": 1})
        await platform.wait(first, statuses=("RUNNING",))
        second = platform.request(graph, {"x": 2})
        await asyncio.sleep(0.2)
        assert (await platform.wait(second, statuses=("QUEUED",))).status == "QUEUED"
        await asyncio.to_thread(platform.container.executions.request_stop, platform.user, second)
        assert (await platform.wait(second, timeout=2)).status == "TERMINATED"
        await asyncio.to_thread(platform.container.executions.request_stop, platform.user, first)
        assert (await platform.wait(first, timeout=2)).status == "TERMINATED"


async def test_a_user_runs_at_most_the_cap_and_the_rest_wait_queued(tmp_path: Path) -> None:
    cap = 2
    async for platform in start_platform(tmp_path, ExecutorConfig(max_running_per_user=cap)):
        graph = sleeper_graph(platform, seconds=0.4)
        ids = [platform.request(graph, {"x": i}) for i in range(5)]
        finals = [await platform.wait(i) for i in ids]
        assert [f.outputs["y"] for f in finals] == [[float(i + 1)] for i in range(5)]
        # from the recorded events, not from sampled statuses (sampling races with completions)
        histories = [await asyncio.to_thread(_recorded, platform, i) for i in ids]
    running = [_running_interval(history) for history in histories]
    assert _most_at_once(running) == cap
    first_end = min(end for _, end in running)
    waited = [
        history
        for history, (start, _) in zip(histories, running, strict=True)
        if any(end <= start for _, end in running)
    ]
    assert len(waited) == len(ids) - cap  # the others started only once an earlier run had ended...
    for history in waited:  # ...and were QUEUED until then
        queued, started = history[1:3]  # after Requested
        assert isinstance(queued, GraphExecution.Queued) and isinstance(started, GraphExecution.Started)
        assert queued.timestamp < first_end


def _recorded(platform: Platform, execution_id: UUID) -> list[Any]:
    """Every event the executions store holds for one run, in order."""
    return list(platform.container.executions.repository.event_store.get(execution_id))


def _running_interval(history: list[Any]) -> tuple[datetime, datetime]:
    """When the run started and when it ended, as its events recorded them."""
    [start] = [e.timestamp for e in history if isinstance(e, GraphExecution.Started)]
    [end] = [e.timestamp for e in history if isinstance(e, GraphExecution.Completed)]
    return start, end


def _most_at_once(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of intervals that overlap (half-open: one ending as another starts is no overlap)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    at_once = most = 0
    for _, change in edges:  # at equal times the -1 sorts first
        at_once += change
        most = max(most, at_once)
    return most


async def test_another_user_is_not_held_back_by_the_cap(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_running_per_user=1)):
        graph = sleeper_graph(platform, seconds=5)
        busy = platform.request(graph, {"x": 1})
        await platform.wait(busy, statuses=("RUNNING",))
        platform.user = "bob"
        quick = platform.add_graph(
            [node("in", INPUT, name="x"), node("out", OUTPUT, name="y")],
            [link("in", "result", "out", "value")],
        )
        done = await platform.run(quick, {"x": 3}, timeout=3)
        assert done.outputs["y"] == [3]
        platform.user = "alice"
        await asyncio.to_thread(platform.container.executions.request_stop, "alice", busy)


async def test_a_node_that_overruns_its_timeout_fails_with_a_clear_error(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(node_timeout_seconds=0.3)):
        graph = sleeper_graph(platform, seconds=5)
        started = time.monotonic()
        execution = await platform.run(graph, {"x": 1})
        assert time.monotonic() - started < 3
        [nap] = [n for n in execution.node_executions.values() if n.node_id == "nap"]
        assert nap.status == "FAILED"
        assert nap.error == "Node execution timed out after 0.3 seconds"
        assert nap.output_data == {"error": ["Node execution timed out after 0.3 seconds"]}
        assert execution.status == "COMPLETED"


async def test_a_cpu_bound_template_that_overruns_its_timeout_is_stopped_and_fails_clearly(tmp_path: Path) -> None:
    # minutes of CPU inside one synchronous render: only a timeout that can kill a process stops it
    slow = "{% for i in range(3000) %}{{ ('x' * 900000) | replace('x', 'yy') | length }}{% endfor %}"
    async for platform in start_platform(tmp_path, ExecutorConfig(node_timeout_seconds=1)):
        graph = platform.add_graph(
            [node("in", INPUT, name="x"), node("fill", FILL_TEMPLATE, format=slow, values={})],
            [link("in", "result", "fill", "values_#_x")],
        )
        execution = await platform.run(graph, {"x": 1}, timeout=30)
        [fill] = [n for n in execution.node_executions.values() if n.node_id == "fill"]
        assert fill.status == "FAILED"
        assert fill.output_data == {"error": ["Node execution timed out after 1 seconds"]}
        # the pool replaced the killed worker: the next template renders
        quick = platform.add_graph(
            [node("in", INPUT, name="x"), node("fill", FILL_TEMPLATE, format="x={{ x }}", values={})],
            [link("in", "result", "fill", "values_#_x")],
        )
        rendered = await platform.run(quick, {"x": 7}, timeout=30)
        assert [n.output_data for n in rendered.node_executions.values() if n.node_id == "fill"] == [
            {"output": ["x=7"]}
        ]


def _child_graph(platform: Platform, seconds: float) -> str:
    return platform.add_graph(
        [
            node("cin", INPUT, name="Topic"),
            node("cnap", SLEEP, seconds=seconds),
            node("cout", OUTPUT, name="Result"),
        ],
        [link("cin", "result", "cnap", "value"), link("cnap", "output", "cout", "value")],
        name="child",
    )


def _parent_graph(platform: Platform, child_id: str) -> str:
    schema_in = {"type": "object", "properties": {"Topic": {}}, "required": ["Topic"]}
    schema_out = {"type": "object", "properties": {"Result": {}}, "required": []}
    return platform.add_graph(
        [
            node("in", INPUT, name="subject"),
            node(
                "agent",
                AGENT_EXECUTOR,
                user_id="",
                graph_id=child_id,
                graph_version=1,
                inputs={},
                input_schema=schema_in,
                output_schema=schema_out,
            ),
            node("out", OUTPUT, name="answer"),
        ],
        [link("in", "result", "agent", "Topic"), link("agent", "Result", "out", "value")],
        name="parent",
    )


async def test_a_sub_agent_runs_as_a_child_and_its_outputs_come_back(platform: Platform) -> None:
    child = _child_graph(platform, seconds=0)
    parent = _parent_graph(platform, child)
    execution = await platform.run(parent, {"subject": "otters"})
    assert execution.status == "COMPLETED"
    assert execution.outputs["answer"] == ["otters"]
    [child_run] = await asyncio.to_thread(_runs_of, platform, child)
    assert (child_run.status, child_run.parent_execution_id) == ("COMPLETED", str(execution.id))


def _runs_of(platform: Platform, graph_id: str) -> list[GraphExecution]:
    """Every run of a graph, as the executions store records them."""
    app = platform.container.executions
    requested = app.recorder.select_notifications(
        start=None, limit=10_000, topics=[get_topic(GraphExecution.Requested)]
    )
    ids = [n.originator_id for n in requested if app.mapper.to_domain_event(n).graph_id == graph_id]
    return [run for run in map(app.load, ids) if run is not None]


async def test_stopping_a_parent_stops_its_sub_agent(platform: Platform) -> None:
    child = _child_graph(platform, seconds=30)
    parent = _parent_graph(platform, child)
    parent_id = platform.request(parent, {"subject": "otters"})
    deadline = time.monotonic() + 5
    child_runs: list[GraphExecution] = []
    while time.monotonic() < deadline and not child_runs:
        child_runs = await asyncio.to_thread(_runs_of, platform, child)
        await asyncio.sleep(0.02)
    assert child_runs, "the child never started"
    await asyncio.sleep(0.1)
    await asyncio.to_thread(platform.container.executions.request_stop, platform.user, parent_id)
    stopped = await platform.wait(parent_id, timeout=3)
    assert stopped.status == "TERMINATED"
    child_final = await platform.wait(child_runs[0].id, timeout=3)
    assert child_final.status == "TERMINATED"


async def test_a_restarted_executor_resumes_without_rerunning_completed_nodes(tmp_path: Path) -> None:
    SleepBlock.started.clear()
    async for platform in start_platform(tmp_path):
        graph = platform.add_graph(
            [
                node("in", INPUT, name="x"),
                node("quick", SLEEP, seconds=0),
                node("slow", SLEEP, seconds=1.0),
                node("out", OUTPUT, name="y"),
            ],
            [
                link("in", "result", "quick", "value"),
                link("quick", "output", "slow", "value"),
                link("slow", "output", "out", "value"),
            ],
        )
        execution_id = platform.request(graph, {"x": 7})
        while len(SleepBlock.started) < 2:  # "slow" has started
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        await platform.service.stop()  # the executor goes away mid-run
        mid = await asyncio.to_thread(platform.container.executions.load, execution_id)
        assert mid is not None and mid.status == "RUNNING"

        successor = ExecutorService(platform.container, ExecutorConfig())
        await successor.start()
        try:
            final = await platform.wait(execution_id)
        finally:
            await successor.stop()
        resumed = resumes_of(platform.container.executions, final.id)
        platform.service = ExecutorService(platform.container)  # so the fixture's stop has something to stop
        await platform.service.start()
    assert final.status == "COMPLETED"
    assert final.outputs["y"] == [7]
    quick_runs = [n for n in final.node_executions.values() if n.node_id == "quick"]
    assert [n.status for n in quick_runs] == ["COMPLETED"]
    assert SleepBlock.started.count(quick_runs[0].node_exec_id) == 1  # not re-run
    [slow] = [n for n in final.node_executions.values() if n.node_id == "slow"]
    assert SleepBlock.started.count(slow.node_exec_id) == 2  # in flight at the stop: run again
    assert resumed == 1


async def test_a_second_executor_on_the_same_store_causes_no_second_effect(platform: Platform) -> None:
    SleepBlock.started.clear()
    rival = ExecutorService(platform.container, ExecutorConfig())
    await rival.start()
    try:
        graph = sleeper_graph(platform, seconds=0.2)
        ids = [platform.request(graph, {"x": i}) for i in range(6)]
        finals = [await platform.wait(i) for i in ids]
    finally:
        await rival.stop()
    assert [f.status for f in finals] == ["COMPLETED"] * 6
    assert [f.outputs["y"] for f in finals] == [[float(i + 1)] for i in range(6)]
    for final in finals:
        for n in final.node_executions.values():
            assert n.output_count() <= 2
        assert len(final.outputs["y"]) == 1
