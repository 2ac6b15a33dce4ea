"""Bounded runs: a loop meets the node limit, a self-calling sub-agent the depth limit; a loop stops at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from eventsourcing.utils import get_topic

from application.executor import ExecutorConfig
from domain.execution import GraphExecution
from tests.unit.engine.harness import AGENT_EXECUTOR, CALCULATOR, INPUT, Platform, link, node, start_platform


def calculator_loop(platform: Platform) -> str:
    """Two calculators feeding each other for ever, started by an input."""
    return platform.add_graph(
        [
            node("in", INPUT, name="start"),
            node("c1", CALCULATOR, operation="Add", b=1),
            node("c2", CALCULATOR, operation="Add", b=1),
        ],
        [link("in", "result", "c1", "a"), link("c1", "result", "c2", "a"), link("c2", "result", "c1", "a")],
        name="loop",
    )


def runs_requested(platform: Platform) -> int:
    """How many runs (sub-agent runs included) the executions store holds."""
    app = platform.container.executions
    topic = get_topic(GraphExecution.Requested)
    requested = app.recorder.select_notifications(start=None, limit=100_000, topics=[topic])
    return len(requested)


async def test_a_looping_run_fails_at_the_node_execution_limit_with_a_clear_error(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_node_executions=300)):
        execution = await platform.run(calculator_loop(platform), {"start": 0}, timeout=30)
        assert execution.status == "FAILED"
        assert execution.error == "Run stopped: it reached the limit of 300 node executions per run"
        started = [n for n in execution.node_executions.values() if n.status not in ("INCOMPLETE", "QUEUED")]
        assert len(started) == 300


async def test_a_sub_agent_calling_its_own_graph_fails_at_the_depth_limit(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_subagent_depth=3)):
        graph = platform.add_graph([node("in", INPUT, name="topic")], [], name="recursive")
        schema_in = {"type": "object", "properties": {"topic": {}}, "required": ["topic"]}
        version = platform.add_version(
            graph,
            [
                node("in", INPUT, name="topic"),
                node(
                    "again",
                    AGENT_EXECUTOR,
                    user_id="",
                    graph_id=graph,
                    graph_version=2,
                    inputs={},
                    input_schema=schema_in,
                    output_schema={"type": "object", "properties": {}, "required": []},
                ),
            ],
            [link("in", "result", "again", "topic")],
        )
        execution = await platform.wait(platform.request(graph, {"topic": "me"}, version=version), timeout=30)
        assert execution.status == "FAILED"
        assert execution.error == "Run stopped: it nests sub-agents deeper than the limit of 3 levels"
        assert await asyncio.to_thread(runs_requested, platform) == 4  # the run and three nested sub-agent runs


async def test_stopping_a_tight_loop_is_recorded_within_a_second_or_so(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_node_executions=10_000_000)):
        execution_id = platform.request(calculator_loop(platform), {"start": 0})
        await platform.wait(execution_id, statuses=("RUNNING",))
        await asyncio.sleep(8)  # tens of thousands of events
        executions = platform.container.executions
        asked = time.monotonic()
        await asyncio.to_thread(executions.request_stop, platform.user, execution_id)
        while (await asyncio.to_thread(executions.peek, platform.user, execution_id)).status == "RUNNING":
            assert time.monotonic() - asked < 300
            await asyncio.sleep(0.02)
        took = time.monotonic() - asked
        assert (await asyncio.to_thread(executions.peek, platform.user, execution_id)).status == "TERMINATED"
        assert took < 3.0, f"stop took {took:.1f} s"


async def test_a_long_run_goes_on_when_the_read_models_are_stuck(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, ExecutorConfig(max_node_executions=200, paced_after=10)):
        platform.service.executor.read_lag = lambda: 1_000_000  # a projector that never moves
        execution = await platform.run(calculator_loop(platform), {"start": 0}, timeout=60)
        assert execution.status == "FAILED"  # it ran to its node limit instead of hanging on the read side
        assert execution.error == "Run stopped: it reached the limit of 200 node executions per run"
