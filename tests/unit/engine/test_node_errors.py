"""Whatever a block fails with, the failure is recorded on its node (the run never ends as an executor error)."""

from __future__ import annotations

from domain.execution import GraphExecution
from tests.unit.engine.harness import FAIL, INPUT, Platform, link, node


async def test_a_huge_error_message_with_a_nul_is_recorded_shortened_and_cleaned(platform: Platform) -> None:
    graph = platform.add_graph(
        [node("in", INPUT, name="message"), node("fail", FAIL, padding=600_000)],
        [link("in", "result", "fail", "message")],
    )
    execution = await platform.run(graph, {"message": "bad"})

    events = list(platform.container.executions.repository.event_store.get(execution.id))
    [failed] = [e for e in events if isinstance(e, GraphExecution.NodeExecutionFailed)]
    assert failed.error.startswith("bad\ufffdxxx") and failed.error.endswith("more characters]")
    assert len(failed.error) < 11_000
    assert execution.status == "COMPLETED" and execution.error is None  # not "internal executor error"
