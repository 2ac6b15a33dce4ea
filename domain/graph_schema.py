"""A graph's ``input_schema`` and ``output_schema``, computed as AutoGPT does.

The input schema is built from the graph's INPUT nodes, the output schema
from its OUTPUT nodes, in node order; each property is keyed by the node's
``name``, and a later node with the same name wins.
"""

from __future__ import annotations

from typing import Any

from domain.blocks.base import BlockType
from domain.graph import GraphContent, Node
from domain.graph_validation import BlockLookup


def _io_nodes(content: GraphContent, lookup: BlockLookup, block_type: BlockType) -> list[tuple[Node, Any]]:
    found = []
    for node in content.nodes:
        block = lookup(node.block_id)
        if block is not None and block.block_type == block_type:
            found.append((node, block))
    return found


def _schema_for(content: GraphContent, lookup: BlockLookup, block_type: BlockType) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for node, block in _io_nodes(content, lookup, block_type):
        data = node.input_default
        name = data.get("name")
        if not isinstance(name, str):
            continue  # an unnamed IO node cannot be addressed; validation reports it
        generate = getattr(block.Input, "generate_schema", None)
        prop: dict[str, Any] = dict(generate(data)) if callable(generate) else {}
        value = data.get("value")
        prop["advanced"] = bool(data.get("advanced", False)) and value is not None
        prop["secret"] = bool(data.get("secret", False))
        prop["title"] = data.get("title") or name
        if data.get("description"):
            prop["description"] = data["description"]
        if value is not None:
            prop["default"] = value
        properties[name] = prop
        if value is None:
            if name not in required:
                required.append(name)
        elif name in required:
            required.remove(name)
    return {"type": "object", "properties": properties, "required": required}


def graph_input_schema(content: GraphContent, lookup: BlockLookup) -> dict[str, Any]:
    """JSON Schema of the inputs a run of this graph takes, keyed by input name."""
    return _schema_for(content, lookup, BlockType.INPUT)


def graph_output_schema(content: GraphContent, lookup: BlockLookup) -> dict[str, Any]:
    """JSON Schema of the outputs a run of this graph produces, keyed by output name."""
    return _schema_for(content, lookup, BlockType.OUTPUT)
