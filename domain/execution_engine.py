"""The execution engine's decisions: which node runs next, with which inputs.

Pure logic over a graph version and a ``GraphExecution``; it records its
decisions on the aggregate and never runs a block itself (the executor in
``application/`` does that). The rules are AutoGPT's (EXECUTION.md):

- a run starts with every INPUT node (fed ``inputs[name]`` as ``value``)
  and every node with no inbound link (NOTE nodes never run);
- each output a node yields travels along the links whose source pin
  matches (dynamic pins reach into the value);
- a delivered value goes to the earliest waiting execution of the sink node
  that still lacks that pin, or to a new one;
- a node execution is queued once every linked pin has a value; pins fed by
  static links are filled from the latest value those links carried, and a
  value arriving over a static link also completes every other waiting
  execution of the sink;
- a node that receives new inputs runs again (loops, fan-out).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any
from uuid import UUID

from domain.blocks.base import Block, BlockType
from domain.dynamic_pins import MISSING, extract_output, split_pin
from domain.execution import GraphExecution, NodeExecution
from domain.execution_status import ExecutionStatus
from domain.graph import GraphContent, Link, Node
from domain.graph_validation import BlockLookup

S = ExecutionStatus


class UnknownBlockError(LookupError):
    """A node's block is not in this platform's library."""


class ExecutionPlan:
    """A graph version prepared for routing (links indexed by node)."""

    def __init__(self, graph: GraphContent, lookup: BlockLookup) -> None:
        self.graph = graph
        self.nodes: dict[str, Node] = {node.id: node for node in graph.nodes}
        self.blocks: dict[str, Block] = {}
        for node in graph.nodes:
            block = lookup(node.block_id)
            if block is None:
                raise UnknownBlockError(f"Block {node.block_id} of node {node.id} no longer exists")
            self.blocks[node.id] = block
        self.links_out: defaultdict[str, list[Link]] = defaultdict(list)
        self.links_in: defaultdict[str, list[Link]] = defaultdict(list)
        for link in graph.links:
            self.links_out[link.source_id].append(link)
            self.links_in[link.sink_id].append(link)
        self.linked_pins: dict[str, frozenset[str]] = {
            node_id: frozenset(link.sink_name for link in links) for node_id, links in self.links_in.items()
        }
        self.static_in: dict[str, list[Link]] = {
            node_id: [link for link in links if link.is_static] for node_id, links in self.links_in.items()
        }

    # -- starting ----------------------------------------------------------

    def starting_nodes(self) -> list[Node]:
        """INPUT nodes and nodes no link leads into; never NOTE nodes."""
        return [
            node
            for node in self.graph.nodes
            if self.blocks[node.id].block_type != BlockType.NOTE
            and (self.blocks[node.id].block_type == BlockType.INPUT or node.id not in self.links_in)
        ]

    def start(self, execution: GraphExecution) -> list[str]:
        """Queue the starting nodes; return their node execution ids."""
        queued = []
        for node in self.starting_nodes():
            linked: dict[str, Any] = {}
            block = self.blocks[node.id]
            if block.block_type == BlockType.INPUT:
                name = node.input_default.get("name")
                if isinstance(name, str) and name in execution.inputs:
                    linked["value"] = execution.inputs[name]
            node_exec_id = new_node_exec_id()
            execution.queue_node(node_exec_id, node.id, node.block_id, self.effective_input(execution, node, linked))
            queued.append(node_exec_id)
        return queued

    # -- routing -----------------------------------------------------------

    def route(self, execution: GraphExecution, source: NodeExecution, pin: str, value: Any) -> list[str]:
        """Deliver one yielded output along the matching links.

        Call after the output is recorded. Returns the node execution ids
        this delivery queued.
        """
        queued: list[str] = []
        for link in self.links_out.get(source.node_id, ()):
            delivered = extract_output(pin, value, link.source_name)
            if delivered is MISSING:
                continue
            sink = self.nodes[link.sink_id]
            waiting = [n for n in execution.waiting(sink.id) if link.sink_name not in n.input_data]
            target = waiting[0] if waiting else None
            target_id = target.node_exec_id if target else new_node_exec_id()
            inputs = {**(target.input_data if target else {}), link.sink_name: delivered}
            if self._offer(execution, sink, target_id, inputs):
                queued.append(target_id)
            else:
                execution.add_node_input(target_id, sink.id, sink.block_id, link.sink_name, delivered)
            if link.is_static:
                for other in waiting[1:]:
                    if self._offer(execution, sink, other.node_exec_id, dict(other.input_data)):
                        queued.append(other.node_exec_id)
        return queued

    def _offer(self, execution: GraphExecution, sink: Node, node_exec_id: str, inputs: dict[str, Any]) -> bool:
        """Queue the node execution if ``inputs`` (plus static fills) complete it."""
        for link in self.static_in.get(sink.id, ()):
            if link.sink_name not in inputs:
                latest = self.latest_over(execution, link)
                if latest is not MISSING:
                    inputs[link.sink_name] = latest
        if not self.linked_pins.get(sink.id, frozenset()) <= inputs.keys():
            return False
        execution.queue_node(node_exec_id, sink.id, sink.block_id, self.effective_input(execution, sink, inputs))
        return True

    def latest_over(self, execution: GraphExecution, link: Link) -> Any:
        """The latest value ``link`` carried, or MISSING if it carried none yet."""
        base, _ = split_pin(link.source_name)
        latest = execution.latest_outputs.get((link.source_id, base), MISSING)
        if latest is MISSING:
            return MISSING
        return extract_output(base, latest, link.source_name)

    def effective_input(self, execution: GraphExecution, node: Node, linked: dict[str, Any]) -> dict[str, Any]:
        """What the block runs with: presets, run-time masks, then linked values.

        Dynamic pins (``values_#_k``) stay as they are here; the executor
        folds them into their base field right before the block runs.
        """
        mask = execution.nodes_input_masks.get(node.id) or {}
        return {**node.input_default, **mask, **linked}

    def graph_output_name(self, node: NodeExecution, pin: str) -> str | None:
        """The run-level output name when an OUTPUT node yields its ``output``."""
        if pin != "output" or self.blocks[node.node_id].block_type != BlockType.OUTPUT:
            return None
        name = node.input_data.get("name")
        return name if isinstance(name, str) else None


def new_node_exec_id() -> str:
    """A fresh (version 4) node execution id.

    From Python's fast PRNG rather than ``os.urandom``: ids must be unique,
    not unguessable, and this runs for every node execution.
    """
    return str(UUID(int=random.getrandbits(128), version=4))
