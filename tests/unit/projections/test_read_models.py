"""Read models built from the event stores, live and rebuilt, on the embedded platform."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.event_log import reader
from adapters.projection_runner import ProjectionRunner
from adapters.read_store import rebuild_projection
from projections.registry import all_projections, projection_named
from tests.read_models import table_rows
from tests.unit.engine.harness import (
    CALCULATOR,
    GET_LIST_ITEM,
    INPUT,
    OUTPUT,
    SLEEP,
    Platform,
    link,
    node,
    start_platform,
)
from tests.unit.projections.catching_up import run_until_caught_up, until_applied

TABLES = {
    "graphs": "graph_id",
    "graph_versions": "graph_id, version",
    "executions": "execution_id",
    "node_executions": "node_exec_id",
    "graph_stats": "graph_id",
    "user_stats": "user_id",
    "block_usage": "block_id",
    "audit_log": "event_id",
    "notifications": "id",
    "notification_runs": "execution_id",
    "notification_agents": "graph_id, version",
}


def _snapshot(platform: Platform) -> dict[str, list[dict[str, Any]]]:
    store = platform.container.read_store
    return {table: table_rows(store, table, order_by) for table, order_by in TABLES.items()}


async def _busy_history(platform: Platform) -> dict[str, Any]:
    """Graphs created, edited, activated and deleted; runs that complete, fail a node and get stopped."""
    nodes = [node("in", INPUT, name="x"), node("calc", CALCULATOR, operation="Add", b=1), node("out", OUTPUT, name="y")]
    links = [link("in", "result", "calc", "a"), link("calc", "result", "out", "value")]
    adder = platform.add_graph(nodes, links, name="adder")
    nodes_v2 = [
        node("in", INPUT, name="x"),
        node("calc", CALCULATOR, operation="Add", b=5),
        node("out", OUTPUT, name="y"),
    ]
    platform.add_version(adder, nodes_v2, links)
    platform.container.graphs.set_active_version(platform.user, UUID(adder), 1)
    picker = platform.add_graph(
        [node("in", INPUT, name="items"), node("get", GET_LIST_ITEM, index=9), node("out", OUTPUT, name="y")],
        [link("in", "result", "get", "list"), link("get", "item", "out", "value")],
        name="picker",
    )
    sleeper = platform.add_graph(
        [node("in", INPUT, name="x"), node("nap", SLEEP, seconds=30), node("out", OUTPUT, name="y")],
        [link("in", "result", "nap", "value"), link("nap", "output", "out", "value")],
        name="sleeper",
    )
    doomed = platform.add_graph([node("n", INPUT, name="x")], [], name="doomed")
    platform.container.graphs.delete_graph(platform.user, UUID(doomed))

    runs = [await platform.run(adder, {"x": i}) for i in range(3)]
    failing = await platform.run(picker, {"items": [1, 2]})
    stopped_id = platform.request(sleeper, {"x": 1})
    await platform.wait(stopped_id, statuses=("RUNNING",))
    await asyncio.sleep(0.1)
    await asyncio.to_thread(platform.container.executions.request_stop, platform.user, stopped_id)
    stopped = await platform.wait(stopped_id)
    return {"adder": adder, "picker": picker, "doomed": doomed, "runs": runs, "failing": failing, "stopped": stopped}


async def _caught_up(platform: Platform) -> None:
    runner = ProjectionRunner(platform.container.read_store, all_projections(), platform.container.event_logs)
    await run_until_caught_up(runner, platform.container.event_logs)


async def test_read_models_show_what_happened(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path):
        history = await _busy_history(platform)
        await _caught_up(platform)
        store = platform.container.read_store

        graphs = {row["name"]: row for row in table_rows(store, "graphs", "graph_id")}
        adder = graphs["adder"]
        assert (adder["latest_version"], adder["active_version"], adder["node_count"]) == (2, 1, 3)
        assert bool(graphs["doomed"]["is_deleted"]) is True
        versions = [
            r for r in table_rows(store, "graph_versions", "graph_id, version") if r["graph_id"] == history["adder"]
        ]
        assert [v["version"] for v in versions] == [1, 2]
        assert json.loads(versions[1]["nodes"])[1]["input_default"]["b"] == 5

        runs = {row["execution_id"]: row for row in table_rows(store, "executions", "execution_id")}
        first = runs[str(history["runs"][0].id)]
        assert first["status"] == "COMPLETED" and json.loads(first["outputs"]) == {"y": [1.0]}
        assert first["node_count"] == 3
        assert runs[str(history["stopped"].id)]["status"] == "TERMINATED"
        failing = runs[str(history["failing"].id)]
        assert failing["status"] == "COMPLETED" and failing["node_error_count"] == 1

        nodes = table_rows(store, "node_executions", "node_exec_id")
        assert len(nodes) == sum(
            len(r.node_executions) for r in [*history["runs"], history["failing"], history["stopped"]]
        )
        failed_node = next(n for n in nodes if n["block_id"] == GET_LIST_ITEM)
        assert failed_node["status"] == "FAILED" and failed_node["error"] == "Index out of range"

        stats = {row["graph_id"]: row for row in table_rows(store, "graph_stats", "graph_id")}
        assert (stats[history["adder"]]["runs"], stats[history["adder"]]["completed"]) == (3, 3)
        assert stats[history["adder"]]["success_rate"] == 1.0
        assert stats[history["adder"]]["p95_duration_seconds"] is not None
        user = table_rows(store, "user_stats", "user_id")[0]
        assert (user["user_id"], user["runs"], user["completed"], user["terminated"]) == ("alice", 5, 4, 1)
        usage = {row["block_id"]: row for row in table_rows(store, "block_usage", "block_id")}
        assert usage[CALCULATOR]["runs"] == 3 and usage[CALCULATOR]["failures"] == 0
        assert usage[GET_LIST_ITEM]["failures"] == 1

        actions = [(r["actor"], r["action"]) for r in table_rows(store, "audit_log", "position, context")]
        assert ("alice", "graph.created") in actions and ("alice", "graph.deleted") in actions
        assert ("alice", "graph.active_version_changed") in actions
        assert ("alice", "execution.requested") in actions and ("alice", "execution.stop_requested") in actions
        assert ("system", "execution.terminated") in actions


async def test_live_read_models_equal_a_rebuild_from_the_event_store(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path):
        await _busy_history(platform)
        await _caught_up(platform)
        live = _snapshot(platform)
        store, logs = platform.container.read_store, platform.container.event_logs
        for projection in all_projections():
            rebuild_projection(store, projection, reader(logs))
        assert _snapshot(platform) == live
        assert store.positions("executions")["executions"] == logs["executions"].head()


async def test_a_rebuild_is_swapped_in_while_the_live_runner_keeps_going(tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path):
        runner = ProjectionRunner(platform.container.read_store, all_projections(), platform.container.event_logs)
        await runner.start()
        try:
            graph = platform.add_graph(
                [node("in", INPUT, name="x"), node("out", OUTPUT, name="y")], [link("in", "result", "out", "value")]
            )
            ids = [platform.request(graph, {"x": i}) for i in range(20)]
            rebuild = asyncio.create_task(
                asyncio.to_thread(
                    rebuild_projection,
                    platform.container.read_store,
                    projection_named("executions"),
                    reader(platform.container.event_logs),
                )
            )
            ids += [platform.request(graph, {"x": i}) for i in range(20, 40)]
            await rebuild
            for execution_id in ids:
                await platform.wait(execution_id)
            await until_applied(runner, platform.container.event_logs, timeout=10)
        finally:
            await runner.close()
        rows = table_rows(platform.container.read_store, "executions", "execution_id")
        assert sorted(r["execution_id"] for r in rows) == sorted(str(i) for i in ids)
        assert all(r["status"] == "COMPLETED" for r in rows)
        live = _snapshot(platform)
        for projection in all_projections():
            rebuild_projection(platform.container.read_store, projection, reader(platform.container.event_logs))
        assert _snapshot(platform) == live
