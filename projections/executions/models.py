"""AutoGPT's execution wire shapes (``GraphExecutionMeta`` and the models built on it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.execution_status import ExecutionStatus
from projections.dead_letters import ParkedEvents


class ExecutionStats(BaseModel):
    """A run's statistics under AutoGPT's names (more counters, e.g. LLM tokens, may follow)."""

    model_config = ConfigDict(extra="allow")

    cost: int = Field(default=0, description="Credits charged (1 credit = 1 US cent)")
    duration: float = Field(default=0.0, description="Wall time of the run in seconds")
    duration_cpu_only: float = Field(default=0.0, description="CPU time of the run in seconds")
    node_exec_time: float = Field(default=0.0, description="Wall time of its node executions in seconds")
    node_exec_time_cpu_only: float = Field(default=0.0, description="CPU time of its node executions in seconds")
    node_exec_count: int = Field(default=0, description="Node executions that ran")
    node_error_count: int = Field(default=0, description="Node executions that failed")
    error: str | None = Field(default=None, description="Why the run failed, if it did")
    activity_status: str | None = None
    correctness_score: float | None = None


class GraphExecutionMeta(ParkedEvents):
    """A run without its results: AutoGPT's ``GraphExecutionMeta``."""

    id: str
    user_id: str
    graph_id: str
    graph_version: int
    inputs: dict[str, Any] | None = None
    credential_inputs: dict[str, Any] | None = None
    nodes_input_masks: dict[str, Any] | None = None
    preset_id: str | None = None
    status: ExecutionStatus
    started_at: str | None = None
    ended_at: str | None = None
    stats: ExecutionStats | None = None
    is_shared: bool = Field(default=False, description="True while the run's outputs are shared by a public link")
    share_token: str | None = Field(default=None, description="The public link's token while it is shared")


class RunWritten(GraphExecutionMeta):
    """A run as a command left it, with the token that makes it readable."""

    consistency_token: str | None = Field(default=None, description="Send back on queries to read this write")


class GraphExecution(GraphExecutionMeta):
    """A run with its graph outputs (``{name: [values]}``): AutoGPT's ``GraphExecution``."""

    outputs: dict[str, list[Any]] = Field(default_factory=dict)


class NodeExecutionResult(BaseModel):
    """One node execution: AutoGPT's ``NodeExecutionResult``."""

    user_id: str
    graph_id: str
    graph_version: int
    graph_exec_id: str
    node_exec_id: str
    node_id: str
    block_id: str
    status: ExecutionStatus
    input_data: dict[str, Any] = Field(default_factory=dict)
    output_data: dict[str, list[Any]] = Field(default_factory=dict)
    add_time: str | None = None
    queue_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    stats: dict[str, Any] | None = Field(
        default=None,
        description="Beyond AutoGPT: what the node execution measured (walltime, cputime, sizes, LLM calls and tokens)",
    )


class GraphExecutionWithNodes(GraphExecution):
    """A run with every node execution, in queue order: AutoGPT's ``GraphExecutionWithNodes``."""

    node_executions: list[NodeExecutionResult] = Field(default_factory=list)


class RunStopped(GraphExecutionWithNodes):
    """A run after a stop request, with the token of the request (null when the run had ended already)."""

    consistency_token: str | None = None


class Pagination(BaseModel):
    """AutoGPT's page facts."""

    total_items: int
    total_pages: int
    current_page: int
    page_size: int


class GraphExecutionsPaginated(BaseModel):
    """A page of one graph's runs: AutoGPT's ``GraphExecutionsPaginated``."""

    executions: list[GraphExecutionMeta]
    pagination: Pagination


class ShareResponse(BaseModel):
    """Answer of ``POST .../share``: AutoGPT's ``ShareResponse``."""

    share_url: str = Field(description="Path of the public page of the shared run (``/share/<token>``)")
    share_token: str = Field(description="Token of ``GET /api/public/shared/{share_token}``")


class SharedExecutionResponse(BaseModel):
    """A shared run as anyone with its token sees it: AutoGPT's ``SharedExecutionResponse``.

    Only what the run produced: never its inputs, node executions, owner,
    credentials, stats or error texts (``status`` says whether it failed).
    """

    id: str
    graph_name: str
    graph_description: str | None = None
    status: ExecutionStatus
    created_at: str
    outputs: dict[str, list[Any]] = Field(default_factory=dict, description="Graph outputs: {name: [values]}")
