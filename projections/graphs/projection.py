"""Graph events -> ``read.graphs`` and ``read.graph_versions``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.graph import Graph
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.graphs.tables import GRAPH_VERSIONS, GRAPHS
from projections.store import ReadModelTx

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    content = data["content"]
    _version(tx, event, 1, content, data["user_id"])
    tx.execute(
        f"INSERT INTO {tx.t('graphs')} (graph_id, user_id, name, description, latest_version, "
        "active_version, node_count, link_count, is_deleted, created_at, updated_at, last_position, "
        "change_count) VALUES (:graph_id, :user_id, :name, :description, 1, 1, :nodes, :links, FALSE, "
        ":at, :at, :position, 1) ON CONFLICT (graph_id) DO NOTHING",
        {
            "graph_id": event.aggregate_id,
            "user_id": data["user_id"],
            "name": content.get("name", ""),
            "description": content.get("description", ""),
            "nodes": len(content.get("nodes", [])),
            "links": len(content.get("links", [])),
            "at": event.timestamp,
            "position": event.position,
        },
    )


def _version_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    _version(tx, event, int(data["version"]), data["content"], _owner(tx, event.aggregate_id))
    tx.execute(
        f"UPDATE {tx.t('graphs')} SET latest_version = :version, updated_at = :at, "
        "last_position = :position, change_count = change_count + 1 WHERE graph_id = :graph_id",
        {
            "version": data["version"],
            "at": event.timestamp,
            "position": event.position,
            "graph_id": event.aggregate_id,
        },
    )
    if data.get("activate", True):
        _activate(tx, event, int(data["version"]), counts=False)


def _active_version_changed(tx: ReadModelTx, event: EventEnvelope) -> None:
    _activate(tx, event, int(event.data["version"]), counts=True)


def _deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    tx.execute(
        f"UPDATE {tx.t('graphs')} SET is_deleted = TRUE, updated_at = :at, last_position = :position, "
        "change_count = change_count + 1 WHERE graph_id = :graph_id",
        {"at": event.timestamp, "position": event.position, "graph_id": event.aggregate_id},
    )


def _owner(tx: ReadModelTx, graph_id: str) -> str:
    row = tx.fetchone(f"SELECT user_id FROM {tx.t('graphs')} WHERE graph_id = :id", {"id": graph_id})
    return str(row["user_id"]) if row else ""


def _version(tx: ReadModelTx, event: EventEnvelope, version: int, content: dict[str, Any], owner: str) -> None:
    created_at = event.data.get("created_at") or event.timestamp
    tx.execute(
        f"INSERT INTO {tx.t('graph_versions')} (graph_id, version, user_id, name, description, instructions, "
        "recommended_schedule_cron, forked_from_id, forked_from_version, node_count, link_count, nodes, links, "
        "created_at) VALUES (:graph_id, :version, :user_id, :name, :description, :instructions, "
        ":recommended_schedule_cron, :forked_from_id, :forked_from_version, :node_count, :link_count, :nodes, "
        ":links, :created_at) "
        "ON CONFLICT (graph_id, version) DO NOTHING",
        {
            "graph_id": event.aggregate_id,
            "version": version,
            "user_id": owner,
            "name": content.get("name", ""),
            "description": content.get("description", ""),
            "instructions": content.get("instructions"),
            "recommended_schedule_cron": content.get("recommended_schedule_cron"),
            "forked_from_id": content.get("forked_from_id"),
            "forked_from_version": content.get("forked_from_version"),
            "node_count": len(content.get("nodes", [])),
            "link_count": len(content.get("links", [])),
            "nodes": tx.json(content.get("nodes", [])),
            "links": tx.json(content.get("links", [])),
            "created_at": created_at,
        },
    )


def _activate(tx: ReadModelTx, event: EventEnvelope, version: int, *, counts: bool) -> None:
    """Show ``version`` as the active one; ``counts`` when the activation is an event of its own."""
    row = tx.fetchone(
        f"SELECT name, description, node_count, link_count FROM {tx.t('graph_versions')} "
        "WHERE graph_id = :graph_id AND version = :version",
        {"graph_id": event.aggregate_id, "version": version},
    )
    if row is None:
        return
    tx.execute(
        f"UPDATE {tx.t('graphs')} SET active_version = :version, name = :name, description = :description, "
        "node_count = :node_count, link_count = :link_count, updated_at = :at, last_position = :position, "
        "change_count = change_count + :counted WHERE graph_id = :graph_id",
        {
            **row,
            "counted": 1 if counts else 0,
            "version": version,
            "at": event.timestamp,
            "position": event.position,
            "graph_id": event.aggregate_id,
        },
    )


_HANDLERS = EventHandlers[Handler](
    {
        Graph.Created: _created,
        Graph.VersionCreated: _version_created,
        Graph.ActiveVersionChanged: _active_version_changed,
        Graph.Deleted: _deleted,
    }
)


class GraphsProjection(Projection):
    """Graph aggregates -> ``graphs`` and ``graph_versions``."""

    name = "graphs"
    contexts = frozenset({"graphs"})
    tables = (GRAPHS, GRAPH_VERSIONS)
    handles = _HANDLERS.types
    ignores = frozenset()

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
