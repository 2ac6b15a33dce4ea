"""AutoGPT's graph JSON: reading exports in, writing exports out.

Import accepts an AutoGPT export as the platform writes it (extra keys such as
``input_links``, ``output_links``, ``sub_graphs``, ``graph_id``, ``webhook_id``
and the computed schemas are tolerated and ignored), assigns fresh ids to
nodes and links (link endpoints remapped) and leaves the graph id to the
store. Exports are written by the read side (``projections.graphs.queries``).

Secrets: a graph never stores secrets. Before a version is recorded, input
values that AutoGPT strips on export (fields marked ``secret``, and keys whose
name contains credentials/api_key/password/token/secret unless the value is
a bool or a credentials reference) are removed, and the preset ``value`` of a
``secret`` INPUT node is dropped. Secrets belong in the credentials store.

Sub-graphs (``sub_graphs``) are not imported yet (issue 13 brings their
import with AutoGPT's id rewriting); exports include them (the read side).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.blocks.base import BlockType
from domain.graph import GraphContent, Link, Node
from domain.graph_validation import BlockLookup
from domain.ids import CanonicalUUID
from domain.numbers import VersionNumber

SECRET_NAME_MARKERS = ("credentials", "api_key", "password", "token", "secret")
_SECRET_NAME = re.compile("|".join(re.escape(marker) for marker in SECRET_NAME_MARKERS), re.IGNORECASE)
_CREDENTIALS_REFERENCE_KEYS = {"id", "provider", "type", "title"}


class LinkPayload(BaseModel):
    """A link as a client or an export sends it."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    source_id: str
    sink_id: str
    source_name: str
    sink_name: str
    is_static: bool = False


class NodePayload(BaseModel):
    """A node as a client or an export sends it (link lists tolerated)."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    block_id: str
    input_default: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    input_links: list[LinkPayload] = Field(default_factory=list)
    output_links: list[LinkPayload] = Field(default_factory=list)


class GraphPayload(BaseModel):
    """A graph as a client or an AutoGPT export sends it."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="", max_length=1000)
    description: str | None = ""
    instructions: str | None = None
    recommended_schedule_cron: str | None = None
    forked_from_id: CanonicalUUID | None = None
    forked_from_version: VersionNumber | None = None
    nodes: list[NodePayload] = Field(default_factory=list)
    links: list[LinkPayload] = Field(default_factory=list)


def _all_links(payload: GraphPayload) -> list[LinkPayload]:
    """Top-level links united with the nodes' own link lists, de-duplicated.

    AutoGPT treats links as equal when their endpoints and pins match.
    """
    seen: set[tuple[str, str, str, str]] = set()
    links: list[LinkPayload] = []
    candidates = list(payload.links)
    for node in payload.nodes:
        candidates.extend(node.input_links)
        candidates.extend(node.output_links)
    for link in candidates:
        key = (link.source_id, link.sink_id, link.source_name, link.sink_name)
        if key not in seen:
            seen.add(key)
            links.append(link)
    return links


def content_from_payload(payload: GraphPayload, *, fresh_ids: bool) -> GraphContent:
    """Turn a payload into graph content.

    With ``fresh_ids`` every node and link gets a new UUID and link endpoints
    are remapped (import). Without it the client's ids are kept and only
    missing ones are generated (a new version of a graph the client edits).
    """
    id_map: dict[str, str] = {}
    nodes: list[Node] = []
    for node in payload.nodes:
        old_id = node.id or str(uuid.uuid4())
        new_id = str(uuid.uuid4()) if fresh_ids else old_id
        # a duplicated id maps to the first new id; validation reports the duplicate
        id_map.setdefault(old_id, new_id)
        nodes.append(
            Node(
                id=new_id,
                block_id=node.block_id,
                input_default=dict(node.input_default),
                metadata=dict(node.metadata),
            )
        )
    links = [
        Link(
            id=str(uuid.uuid4()) if fresh_ids or not link.id else link.id,
            source_id=id_map.get(link.source_id, link.source_id),
            sink_id=id_map.get(link.sink_id, link.sink_id),
            source_name=link.source_name,
            sink_name=link.sink_name,
            is_static=link.is_static,
        )
        for link in _all_links(payload)
    ]
    return GraphContent(
        name=payload.name,
        description=payload.description or "",
        instructions=payload.instructions,
        recommended_schedule_cron=payload.recommended_schedule_cron,
        forked_from_id=payload.forked_from_id,
        forked_from_version=payload.forked_from_version,
        nodes=nodes,
        links=links,
    )


def _looks_secret(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if _SECRET_NAME.search(name) is None:
        return False
    # a credentials reference ({id, provider, type, title}) names a secret, it is not one
    return not (isinstance(value, dict) and set(value) <= _CREDENTIALS_REFERENCE_KEYS)


def _strip(values: dict[str, Any], secret_fields: set[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in values.items():
        if key in secret_fields or _looks_secret(key, value):
            continue
        kept[key] = _strip(value, set()) if isinstance(value, dict) else value
    return kept


def strip_secrets(content: GraphContent, lookup: BlockLookup) -> GraphContent:
    """``content`` without any secret input value (see the module docstring)."""
    nodes: list[Node] = []
    for node in content.nodes:
        block = lookup(node.block_id)
        secret_fields = set(block.Input.secret_field_names()) if block is not None else set()
        values = _strip(node.input_default, secret_fields)
        if block is not None and block.block_type == BlockType.INPUT and values.get("secret") is True:
            values.pop("value", None)
        nodes.append(node.model_copy(update={"input_default": values}))
    return content.model_copy(update={"nodes": nodes})
