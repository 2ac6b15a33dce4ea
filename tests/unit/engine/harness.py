"""An embedded platform for engine tests: SQLite, the real executor, test blocks.

Graphs are written as small dicts; helpers run them to the end and return
the ``GraphExecution`` as the store has it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from adapters.settings import Settings
from api.bootstrap import ExecutorService
from api.composition import Container, build_block_registry, build_container
from application.executor import ExecutorConfig
from domain.agent_format import GraphPayload
from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchemaInput,
    BlockSchemaOutput,
    RunContext,
    SchemaField,
)
from domain.blocks.registry import BlockRegistry
from domain.execution import GraphExecution

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
CALCULATOR = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
STORE_VALUE = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
STEP_THROUGH = "f66a3543-28d3-4ab5-8945-9b336371e2ce"
FIND_IN_DICT = "0e50422c-6dee-4145-83d6-3a5a392f65de"
FILL_TEMPLATE = "db7d8f02-2f44-4c55-ab7a-eae0941f0c30"
CREATE_DICT = "b924ddf4-de4f-4b56-9a85-358930dcbc91"
CONDITION = "715696a0-e1da-45c8-b209-c2fa9c3b0be6"
GET_LIST_ITEM = "262ca24c-1025-43cf-a578-534e23234e97"
AGENT_EXECUTOR = "e189baac-8c20-45a1-94a7-55177ea42565"
SLEEP = "5ee1f000-0000-4000-8000-000000000001"
FAIL = "5ee1f000-0000-4000-8000-000000000002"

FINAL = ("COMPLETED", "FAILED", "TERMINATED")


class SleepBlock(Block):
    """Test double: sleeps, then passes its input on (a stand-in for a slow API call)."""

    id = SLEEP
    description = "Sleeps for `seconds`, then yields `value` on `output`."
    categories = frozenset({BlockCategory.BASIC})
    started: list[str] = []  # node exec ids, in start order (class-level: the test reads it)

    class Input(BlockSchemaInput):
        value: Any = SchemaField(None, description="passed through")
        seconds: float = SchemaField(0.0, description="how long to sleep")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="the value")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        SleepBlock.started.append(context.node_exec_id)
        await asyncio.sleep(input_data.seconds)
        yield "output", input_data.value


class FailBlock(Block):
    """Test double: fails with ``message``, a NUL and ``padding`` x's (an error no store keeps as it is)."""

    id = FAIL
    description = "Fails with `message`, a NUL character and `padding` x's."
    categories = frozenset({BlockCategory.BASIC})
    pure = True

    class Input(BlockSchemaInput):
        message: str = SchemaField("failed", description="the error")
        padding: int = SchemaField(0, description="x's after the NUL")

    class Output(BlockSchemaOutput):
        output: Any = SchemaField(description="never yielded")

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        raise ValueError(f"{input_data.message}\x00{'x' * input_data.padding}")
        yield "output", None  # an async generator, as every block's run


def node(node_id: str, block_id: str, **input_default: Any) -> dict[str, Any]:
    return {"id": node_id, "block_id": block_id, "input_default": input_default}


def link(source: str, source_pin: str, sink: str, sink_pin: str, *, static: bool = False) -> dict[str, Any]:
    return {
        "source_id": source,
        "source_name": source_pin,
        "sink_id": sink,
        "sink_name": sink_pin,
        "is_static": static,
    }


@dataclass
class Platform:
    """The embedded platform with an executor running in the test's loop."""

    container: Container
    service: ExecutorService
    user: str = "alice"
    graph_ids: dict[str, str] = field(default_factory=dict)

    def add_graph(self, nodes: list[dict[str, Any]], links: list[dict[str, Any]], name: str = "g") -> str:
        """Store a graph keeping our node ids, so tests can name nodes."""
        payload = GraphPayload.model_validate({"name": name, "nodes": nodes, "links": links})
        return str(self.container.graphs.create_graph(self.user, payload, fresh_ids=False).aggregate_id)

    def add_version(self, graph_id: str, nodes: list[dict[str, Any]], links: list[dict[str, Any]]) -> int:
        payload = GraphPayload.model_validate({"name": "g", "nodes": nodes, "links": links})
        return self.container.graphs.update_graph(self.user, UUID(graph_id), payload).version

    def request(self, graph_id: str, inputs: dict[str, Any] | None = None, version: int | None = None) -> UUID:
        if version is None:
            version = self.container.graphs.repository.get(UUID(graph_id)).active_version
        requested = self.container.executions.request_execution(
            user_id=self.user,
            graph_id=graph_id,
            graph_version=version,
            graph=self.container.graphs.graph_for_run(self.user, graph_id, version),
            lookup=self.container.blocks.get,
            inputs=inputs or {},
        )
        return requested.aggregate_id

    async def wait(
        self, execution_id: UUID, timeout: float = 10.0, statuses: tuple[str, ...] = FINAL
    ) -> GraphExecution:
        """Poll cheaply (first and last event only) until the run reaches one of ``statuses``."""
        executions = self.container.executions
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            peek = await asyncio.to_thread(executions.peek, self.user, execution_id)
            if peek.status in statuses:
                execution = await asyncio.to_thread(executions.load, execution_id)
                assert execution is not None
                return execution
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"execution stayed {peek.status}")
            await asyncio.sleep(0.02)

    async def run(self, graph_id: str, inputs: dict[str, Any] | None = None, timeout: float = 10.0) -> GraphExecution:
        return await self.wait(self.request(graph_id, inputs), timeout)


def outputs_of(execution: GraphExecution, node_id: str) -> list[dict[str, list[Any]]]:
    """The output_data of every execution of ``node_id``, in order."""
    return [n.output_data for n in execution.node_executions.values() if n.node_id == node_id]


async def start_platform(
    tmp_path: Path, config: ExecutorConfig | None = None, settings: Settings | None = None
) -> AsyncIterator[Platform]:
    """Yield a running platform (embedded unless ``settings`` say otherwise); everything stops afterwards."""
    settings = settings or Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data")
    blocks = BlockRegistry([*build_block_registry(settings).all(), SleepBlock(), FailBlock()])
    container = build_container(settings, blocks)
    service = ExecutorService(container, config or ExecutorConfig(node_timeout_seconds=30))
    await service.start()
    platform = Platform(container, service)
    try:
        yield platform
    finally:
        # the service the test left running (a test may replace it): a follower left running past
        # ``close`` would read from a closed SQLite connection
        await platform.service.stop()
        container.close()


def resumes_of(executions: Any, execution_id: Any) -> int:
    """How many times another executor took the run over, from its recorded ``Resumed`` events."""
    return sum(isinstance(e, GraphExecution.Resumed) for e in executions.repository.event_store.get(execution_id))
