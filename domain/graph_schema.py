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


_CREDENTIALS_EXTRAS = ("discriminator", "discriminator_mapping", "discriminator_values")


def _one_or_many(values: list[str]) -> dict[str, Any]:
    return {"const": values[0]} if len(values) == 1 else {"enum": values}


def graph_credentials_input_schema(content: GraphContent, lookup: BlockLookup) -> dict[str, Any]:
    """JSON Schema of the credentials a run of this graph can be given, as AutoGPT aggregates them.

    One property per credentials pin name across the graph's nodes (a pin
    whose schema names ``credentials_provider``); nodes sharing a pin name
    merge their providers and types. A pin is required when some node's
    block requires it and the node is not marked ``credentials_optional``.
    """
    merged: dict[str, dict[str, Any]] = {}
    required: list[str] = []
    for node in content.nodes:
        block = lookup(node.block_id)
        if block is None:
            continue
        schema = block.Input.jsonschema()
        for name, prop in schema.get("properties", {}).items():
            if not isinstance(prop, dict) or "credentials_provider" not in prop:
                continue
            entry = merged.setdefault(name, {"providers": [], "types": [], "extras": {}})
            entry["providers"] += [p for p in prop.get("credentials_provider", []) if p not in entry["providers"]]
            entry["types"] += [t for t in prop.get("credentials_types", []) if t not in entry["types"]]
            entry["extras"].update({key: prop[key] for key in _CREDENTIALS_EXTRAS if key in prop})
            optional = bool(node.metadata.get("credentials_optional"))
            if name in schema.get("required", []) and not optional and name not in required:
                required.append(name)
    properties = {
        name: {
            "credentials_provider": entry["providers"],
            "credentials_types": entry["types"],
            "type": "object",
            "properties": {
                "id": {"title": "Id", "type": "string"},
                "title": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Title"},
                "provider": {"title": "Provider", "type": "string", **_one_or_many(entry["providers"])},
                "type": {"title": "Type", "type": "string", **_one_or_many(entry["types"])},
            },
            "required": ["id", "provider", "type"],
            **entry["extras"],
        }
        for name, entry in merged.items()
        if entry["providers"] and entry["types"]
    }
    return {"type": "object", "properties": properties, "required": required}


def graph_traits(content: GraphContent, lookup: BlockLookup) -> dict[str, Any]:
    """AutoGPT's computed flags of a graph: external trigger, human in the loop, sensitive action, trigger setup.

    ``trigger_setup_info`` stays null: no block here declares a webhook configuration.
    """
    blocks = [block for block in (lookup(node.block_id) for node in content.nodes) if block is not None]
    types = {block.block_type for block in blocks}
    return {
        "has_external_trigger": bool(types & {BlockType.WEBHOOK, BlockType.WEBHOOK_MANUAL}),
        "has_human_in_the_loop": BlockType.HUMAN_IN_THE_LOOP in types,
        "has_sensitive_action": any(getattr(block, "is_sensitive_action", False) for block in blocks),
        "trigger_setup_info": None,
    }
