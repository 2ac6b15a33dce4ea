"""AgentExecutorBlock: run another graph version as a sub-agent.

It lives in the application layer because running it means starting a
child execution: the executor hands it a sub-agent runner through
``RunContext.extra``. The child records its parent; its OUTPUT values are
re-yielded under their names as they are produced; stopping the parent
stops the child.
"""

from __future__ import annotations

from typing import Any, Protocol

from domain.blocks.base import (
    Block,
    BlockCategory,
    BlockOutput,
    BlockSchema,
    BlockSchemaInput,
    BlockType,
    RunContext,
    SchemaField,
)
from domain.ids import CanonicalUUID
from domain.numbers import VersionNumber


class SubAgentRunner(Protocol):
    """Starts a child run and streams its outputs."""

    def run_child(self, context: RunContext, graph_id: str, graph_version: int, inputs: dict[str, Any]) -> Any:
        """An async iterator of ``(output_name, value)``."""
        ...


class AgentExecutorBlock(Block):
    """Executes an existing agent inside your agent."""

    id = "e189baac-8c20-45a1-94a7-55177ea42565"
    pure = False  # its child run may hold blocks that are not pure
    description = "Executes an existing agent inside your agent"
    categories = frozenset({BlockCategory.AGENT})
    block_type = BlockType.AGENT

    class Input(BlockSchemaInput):
        user_id: str = SchemaField(description="User ID")
        graph_id: CanonicalUUID = SchemaField(description="Graph ID")  # any spelling runs the same graph
        graph_version: VersionNumber = SchemaField(description="Graph Version")
        agent_name: str | None = SchemaField(default=None, description="Name to display in the Builder UI")
        inputs: dict[str, Any] = SchemaField(description="Input data for the graph")
        input_schema: dict[str, Any] = SchemaField(description="Input schema for the graph")
        output_schema: dict[str, Any] = SchemaField(description="Output schema for the graph")
        nodes_input_masks: dict[str, Any] | None = SchemaField(default=None, description="", hidden=True)

    # outputs are the child graph's output names: no declared pins, no automatic error pin
    Output = BlockSchema

    async def run(self, input_data: Any, context: RunContext) -> BlockOutput:
        runner: SubAgentRunner | None = context.extra.get("subagent_runner")
        if runner is None:
            raise RuntimeError("AgentExecutorBlock runs only inside a graph execution")
        async for name, value in runner.run_child(
            context, input_data.graph_id, input_data.graph_version, dict(input_data.inputs)
        ):
            yield name, value
