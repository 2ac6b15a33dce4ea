"""The event store fails under a running graph: the executor's writer retries and the run still completes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.engine.harness import CALCULATOR, INPUT, OUTPUT, Platform, link, node


async def test_a_run_completes_when_the_store_fails_its_first_writes(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = platform.add_graph(
        [
            node("in", INPUT, name="Input"),
            node("calc", CALCULATOR, operation="Add", b=34),
            node("out", OUTPUT, name="Output"),
        ],
        [link("in", "result", "calc", "a"), link("calc", "result", "out", "value")],
    )
    executions = platform.container.executions
    record_events = executions.record_events
    outage = iter(range(2))  # the executor's first two writes fail

    def flaky_record_events(events: list[Any]) -> Any:
        if next(outage, None) is not None:
            raise ConnectionError("database restarting")
        return record_events(events)

    monkeypatch.setattr(executions, "record_events", flaky_record_events)

    execution = await platform.run(graph, {"Input": 8})

    assert execution.status == "COMPLETED"
    assert dict(execution.outputs) == {"Output": [42.0]}
    assert platform.service.executor.writer.stats.failures == 2
