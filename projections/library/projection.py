"""Graph and library events -> ``read.library_agents``; preset events -> ``read.library_presets``.

Graph events other than ``Graph.Created`` are left out: the graph as it is
now is read from the graphs read model at query time. Each table column is
written by one log only (``projections.library.tables``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.event_types import events_of_other_aggregates
from domain.graph import Graph
from domain.library_agent import LibraryAgent, library_agent_id
from domain.preset import AgentPreset
from domain.secret_inputs import mask_sealed
from projections.base import Projection
from projections.dispatch import EventHandlers
from projections.envelope import EventEnvelope
from projections.library.tables import LIBRARY_AGENTS, LIBRARY_PRESETS
from projections.store import ReadModelTx, json_value

Handler = Callable[[ReadModelTx, EventEnvelope], None]


def _graph_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    owner = str(event.data["user_id"])
    tx.execute(
        f"INSERT INTO {tx.t('library_agents')} (library_agent_id, user_id, graph_id, created_by_user, "
        "graph_created_at) VALUES (:id, :user_id, :graph_id, TRUE, :at) "
        "ON CONFLICT (library_agent_id) DO UPDATE SET created_by_user = TRUE, graph_created_at = :at",
        {
            "id": str(library_agent_id(owner, event.aggregate_id)),
            "user_id": owner,
            "graph_id": event.aggregate_id,
            "at": event.timestamp,
        },
    )


def _agent_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    values = {
        "user_id": data["user_id"],
        "graph_id": data["graph_id"],
        "created_by_user": bool(data["created_by_user"]),
        "graph_version": int(data["graph_version"]),
        "auto_update_version": bool(data["auto_update_version"]),
        "granted_versions": tx.json([int(v) for v in data.get("granted_versions") or []]),
        "image_url": data.get("image_url"),
        "creator_name": data.get("creator_name"),
        "creator_image_url": data.get("creator_image_url"),
        "is_favorite": False,
        "is_archived": False,
        "is_deleted": False,
        "added_at": event.timestamp,
        "updated_at": event.timestamp,
        "last_position": event.position,
    }
    columns = ", ".join(values)
    updates = ", ".join(f"{name} = :{name}" for name in values if name not in ("user_id", "graph_id"))
    tx.execute(
        f"INSERT INTO {tx.t('library_agents')} (library_agent_id, {columns}) "
        f"VALUES (:id, {', '.join(':' + name for name in values)}) "
        f"ON CONFLICT (library_agent_id) DO UPDATE SET {updates}",
        {"id": event.aggregate_id, **values},
    )


def _update_agent(tx: ReadModelTx, event: EventEnvelope, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    # last_position guards against applying one event twice (a redelivery) out of order
    tx.execute(
        f"UPDATE {tx.t('library_agents')} SET {sets}, updated_at = :at, last_position = :position "
        "WHERE library_agent_id = :id AND last_position < :position",
        {**changes, "at": event.timestamp, "position": event.position, "id": event.aggregate_id},
    )


def _store_version_added(tx: ReadModelTx, event: EventEnvelope) -> None:
    row = tx.fetchone(
        f"SELECT granted_versions FROM {tx.t('library_agents')} WHERE library_agent_id = :id",
        {"id": event.aggregate_id},
    )
    granted = list(json_value(row["granted_versions"]) or []) if row else []
    version = int(event.data["graph_version"])
    if version not in granted:
        granted.append(version)
    changes = {"graph_version": version, "granted_versions": tx.json(granted), "is_deleted": False}
    _update_agent(tx, event, changes)


def _agent_updated(tx: ReadModelTx, event: EventEnvelope) -> None:
    fields = ("auto_update_version", "graph_version", "is_favorite", "is_archived")
    changes = {name: event.data.get(name) for name in fields if event.data.get(name) is not None}
    _update_agent(tx, event, changes)


def _agent_deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update_agent(tx, event, {"is_deleted": True})


def _preset_created(tx: ReadModelTx, event: EventEnvelope) -> None:
    data = event.data
    tx.execute(
        f"INSERT INTO {tx.t('library_presets')} (preset_id, user_id, graph_id, graph_version, name, description, "
        "is_active, inputs, credentials, is_deleted, created_at, updated_at, last_position) VALUES (:id, :user_id, "
        ":graph_id, :graph_version, :name, :description, :is_active, :inputs, :credentials, FALSE, :at, :at, "
        ":position) ON CONFLICT (preset_id) DO NOTHING",
        {
            "id": event.aggregate_id,
            "user_id": data["user_id"],
            "graph_id": data["graph_id"],
            "graph_version": int(data["graph_version"]),
            "name": data["name"],
            "description": data["description"],
            "is_active": bool(data["is_active"]),
            "inputs": tx.json(mask_sealed(data.get("inputs") or {})),
            "credentials": tx.json(data.get("credentials") or {}),
            "at": event.timestamp,
            "position": event.position,
        },
    )


def _update_preset(tx: ReadModelTx, event: EventEnvelope, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    tx.execute(
        f"UPDATE {tx.t('library_presets')} SET {sets}, updated_at = :at, last_position = :position "
        "WHERE preset_id = :id AND last_position < :position",
        {**changes, "at": event.timestamp, "position": event.position, "id": event.aggregate_id},
    )


def _preset_updated(tx: ReadModelTx, event: EventEnvelope) -> None:
    changes: dict[str, Any] = {}
    for name, value in (event.data.get("changes") or {}).items():
        if name in ("inputs", "credentials"):
            changes[name] = tx.json(mask_sealed(value or {}))
        elif name in ("name", "description", "is_active", "graph_version"):
            changes[name] = value
    _update_preset(tx, event, changes)


def _preset_deleted(tx: ReadModelTx, event: EventEnvelope) -> None:
    _update_preset(tx, event, {"is_deleted": True})


_HANDLERS = EventHandlers[Handler](
    {
        Graph.Created: _graph_created,
        LibraryAgent.Created: _agent_created,
        LibraryAgent.StoreVersionAdded: _store_version_added,
        LibraryAgent.Updated: _agent_updated,
        LibraryAgent.Deleted: _agent_deleted,
        AgentPreset.Created: _preset_created,
        AgentPreset.Updated: _preset_updated,
        AgentPreset.Deleted: _preset_deleted,
    }
)


class LibraryProjection(Projection):
    """Own graphs (graphs log) and library and preset commands (accounts log) -> the library tables."""

    name = "library"
    contexts = frozenset({"graphs", "accounts"})
    tables = (LIBRARY_AGENTS, LIBRARY_PRESETS)
    handles = _HANDLERS.types
    ignores = events_of_other_aggregates("accounts", LibraryAgent, AgentPreset) | frozenset(
        {Graph.VersionCreated, Graph.ActiveVersionChanged, Graph.Deleted}  # the graph as it is now: graphs read model
    )

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        """Apply each event of ``batch`` in log order."""
        for event in batch:
            handler = _HANDLERS.get(event.type)
            if handler is not None:
                handler(tx, event)
