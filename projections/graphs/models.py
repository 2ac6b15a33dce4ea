"""AutoGPT's graph wire shapes (``GraphMeta``, ``GraphModel``, export, sub-graph entries).

Field order follows AutoGPT's newest graph model, so an export written here
has the key order of ``calculator-agent.json``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from projections.dead_letters import ParkedEvents


class LinkModel(BaseModel):
    """A link from a source node's output pin to a sink node's input pin."""

    id: str
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class SubGraphNodeModel(BaseModel):
    """A node of a sub-graph entry: AutoGPT's plain ``Node``."""

    id: str
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    input_links: list[LinkModel] = Field(default_factory=list)
    output_links: list[LinkModel] = Field(default_factory=list)


class NodeModel(SubGraphNodeModel):
    """A stored node: AutoGPT's ``NodeModel``."""

    graph_id: str
    graph_version: int
    webhook_id: str | None = None


class GraphBaseMeta(BaseModel):
    """The fields every graph shape starts with."""

    id: str
    version: int
    is_active: bool
    name: str
    description: str
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: str | None = None
    forked_from_version: int | None = None


class GraphMeta(ParkedEvents, GraphBaseMeta):
    """A graph without its nodes and links (``GET /api/graphs`` lists these)."""

    user_id: str
    created_at: str


class SubGraphModel(GraphBaseMeta):
    """One ``sub_graphs`` entry: AutoGPT's ``BaseGraph`` (no owner, no credentials schema)."""

    nodes: list[SubGraphNodeModel]
    links: list[LinkModel]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    has_external_trigger: bool
    has_human_in_the_loop: bool
    has_sensitive_action: bool
    trigger_setup_info: dict[str, Any] | None = None


class GraphModel(GraphMeta):
    """A whole graph version: AutoGPT's ``GraphModel`` (also the export shape)."""

    nodes: list[NodeModel]
    links: list[LinkModel]
    sub_graphs: list[SubGraphModel] = Field(default_factory=list)
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    has_external_trigger: bool
    has_human_in_the_loop: bool
    has_sensitive_action: bool
    trigger_setup_info: dict[str, Any] | None = None
    credentials_input_schema: dict[str, Any]


class GraphWritten(GraphModel):
    """A graph as a command left it, with the token that makes it readable."""

    consistency_token: str | None = Field(default=None, description="Send back on queries to read this write")


class GraphDeletedAnswer(BaseModel):
    """How many versions the deleted graph had."""

    version_counts: int
    consistency_token: str | None = None
