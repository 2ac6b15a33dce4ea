"""Graph validation: every problem of a graph reported at once.

Follows AutoGPT's rules (pin names checked after cutting dynamic-pin
suffixes, links out of static-output blocks forced static, messages worded
as AutoGPT words them) with one difference: AutoGPT raises on the first
structural error, we collect all of them so an author fixes a graph in one
round trip.

Problems are reported as node-level errors ``{node_id: {pin: message}}``
plus graph-level errors (``[message]``) for what belongs to no single node
(duplicate node ids, links to nodes that do not exist).

Required inputs: every node but a NOTE must have each required pin either
preset in ``input_default`` or linked. AutoGPT checks this for most blocks
only when a run starts; we check it when a version is saved, so a stored
version is always runnable (every agent export we know of passes it).
Credentials pins are exempt: they are bound at run time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from domain.blocks.base import Block, BlockType
from domain.graph import GraphContent, Link

BlockLookup = Callable[[str], Block | None]
"""Finds a block by id; None when the library has no such block."""

DYNAMIC_PIN_DELIMITERS = ("_$_", "_#_", "_@_")
"""List index, dict key and object attribute suffixes of dynamic pins."""

TOOL_PIN_PREFIX = "tools_^_"


def sanitize_pin_name(name: str) -> str:
    """The base field of a pin name: ``values_#_key`` -> ``values``.

    SmartDecisionMaker tool pins (``tools_^_...``) normalise to ``tools``.
    """
    if name == "tools" or name.startswith(TOOL_PIN_PREFIX):
        return "tools"
    cut = len(name)
    for delimiter in DYNAMIC_PIN_DELIMITERS:
        index = name.find(delimiter)
        if index != -1:
            cut = min(cut, index)
    return name[:cut]


def is_credentials_field(name: str) -> bool:
    """AutoGPT reserves ``credentials`` and ``*_credentials`` for credentials."""
    return name == "credentials" or name.endswith("_credentials")


class GraphValidationError(ValueError):
    """A graph failed validation; carries every problem found."""

    def __init__(self, node_errors: dict[str, dict[str, str]], graph_errors: list[str]) -> None:
        self.node_errors = node_errors
        self.graph_errors = graph_errors
        first = graph_errors[0] if graph_errors else _first_node_error(node_errors)
        count = len(graph_errors) + sum(len(v) for v in node_errors.values())
        super().__init__(f"Graph is invalid ({count} problem{'s' if count != 1 else ''}): {first}")

    def as_dict(self) -> dict[str, Any]:
        """The structured body an API client receives."""
        return {"node_errors": self.node_errors, "graph_errors": self.graph_errors}


def _first_node_error(node_errors: dict[str, dict[str, str]]) -> str:
    for node_id, pins in node_errors.items():
        for pin, message in pins.items():
            return f"node {node_id}, {pin}: {message}"
    return "no details"


def _allowed_pins(block: Block, input_default: dict[str, Any], side: str) -> set[str]:
    """Pins a link may use on ``side`` ("source" or "sink") of a node."""
    if block.block_type == BlockType.AGENT:
        key = "output_schema" if side == "source" else "input_schema"
        schema = input_default.get(key)
        properties = schema.get("properties") if isinstance(schema, dict) else None
        return set(properties) if isinstance(properties, dict) else set()
    return block.output_pins() if side == "source" else block.input_pins()


def validate_graph(content: GraphContent, lookup: BlockLookup) -> GraphContent:
    """Check ``content``; return it normalised (static links forced).

    Raises ``GraphValidationError`` listing every problem found.
    """
    node_errors: dict[str, dict[str, str]] = {}
    graph_errors: list[str] = []

    def node_error(node_id: str, pin: str, message: str) -> None:
        node_errors.setdefault(node_id, {}).setdefault(pin, message)

    id_counts = Counter(node.id for node in content.nodes)
    for node_id, count in id_counts.items():
        if count > 1:
            graph_errors.append(f"Duplicate node id {node_id!r} ({count} nodes share it)")
    link_id_counts = Counter(link.id for link in content.links)
    for link_id, count in link_id_counts.items():
        if count > 1:
            graph_errors.append(f"Duplicate link id {link_id!r} ({count} links share it)")

    nodes = {node.id: node for node in content.nodes}
    blocks: dict[str, Block] = {}
    for node in content.nodes:
        block = lookup(node.block_id)
        if block is None:
            node_error(node.id, "block_id", f"Invalid block {node.block_id} for node #{node.id}")
        elif block.disabled:
            node_error(node.id, "block_id", f"Block {node.block_id} is disabled and cannot be used in graphs")
        else:
            blocks[node.id] = block

    normalised_links: list[Link] = []
    for link in content.links:
        prefix = f"Link {(link.source_id, link.source_name)!r} <-> {(link.sink_id, link.sink_name)!r}"
        for side, node_id, pin in (
            ("source", link.source_id, link.source_name),
            ("sink", link.sink_id, link.sink_name),
        ):
            if node_id not in nodes:
                graph_errors.append(f"{prefix}, {node_id} is invalid node id, available nodes: {list(nodes.keys())!r}")
                continue
            block = blocks.get(node_id)
            if block is None:
                continue  # already reported as an unknown block on the node
            allowed = _allowed_pins(block, nodes[node_id].input_default, side)
            base = sanitize_pin_name(pin)
            if base not in allowed and base != "tools":
                node_error(node_id, pin, f"{prefix}, `{pin}` invalid, Allowed fields: {sorted(allowed)!r}")
        source_block = blocks.get(link.source_id)
        forced_static = source_block is not None and source_block.static_output
        normalised_links.append(link.model_copy(update={"is_static": True}) if forced_static else link)

    linked_pins: dict[str, set[str]] = {}
    for link in content.links:
        linked_pins.setdefault(link.sink_id, set()).add(sanitize_pin_name(link.sink_name))

    for node in content.nodes:
        block = blocks.get(node.id)
        if block is None or block.block_type == BlockType.NOTE:
            continue
        preset = {sanitize_pin_name(k) for k, v in node.input_default.items() if v is not None}
        provided = preset | linked_pins.get(node.id, set())
        for pin in sorted(_required_pins(block, node.input_default) - provided):
            if not is_credentials_field(pin):
                node_error(node.id, pin, "This field is required")
        if block.block_type == BlockType.INPUT:
            name = node.input_default.get("name")
            if isinstance(name, str) and is_credentials_field(name):
                node_error(
                    node.id,
                    "name",
                    f"'{name}' is a reserved input name: 'credentials' and `*_credentials` are reserved",
                )

    if node_errors or graph_errors:
        raise GraphValidationError(node_errors, graph_errors)
    return content.model_copy(update={"links": normalised_links})


def _required_pins(block: Block, input_default: dict[str, Any]) -> set[str]:
    if block.block_type == BlockType.AGENT:
        schema = input_default.get("input_schema")
        required = schema.get("required", []) if isinstance(schema, dict) else []
        inputs = input_default.get("inputs") or {}
        base = block.Input.required_fields() - {"inputs", "input_schema", "output_schema"}
        return base | {name for name in required if name not in inputs}
    return block.Input.required_fields()
