"""The graphs read models: ``read.graphs`` and ``read.graph_versions``."""

from __future__ import annotations

from typing import Any

from projections.base import Column, Projection, Table
from projections.envelope import EventEnvelope
from projections.store import ReadModelTx

GRAPHS = Table(
    name="graphs",
    comment="One row per agent graph: its owner, latest and active version, and the size of the active version.",
    columns=(
        Column("graph_id", "text", "Graph id (UUID)."),
        Column("user_id", "text", "Owner (the JWT sub of the creator)."),
        Column("name", "text", "Name of the active version."),
        Column("description", "text", "Description of the active version."),
        Column("latest_version", "int", "Highest version number."),
        Column("active_version", "int", "Version new executions use."),
        Column("node_count", "int", "Nodes in the active version."),
        Column("link_count", "int", "Links in the active version."),
        Column("is_deleted", "bool", "True once deleted (history is kept)."),
        Column("created_at", "timestamp", "When the graph was created."),
        Column("updated_at", "timestamp", "When the graph last changed."),
        Column("last_position", "int", "Position in the graphs log of the last event applied to this row."),
        Column(
            "change_count",
            "int",
            "Changes recorded for the graph: 1 for its creation, +1 per new version, activation or deletion "
            "(equals the number of events of the graph, so a replay or a duplicate never inflates it).",
        ),
    ),
    primary_key=("graph_id",),
    indexes=(("user_id",),),
)

GRAPH_VERSIONS = Table(
    name="graph_versions",
    comment="One row per immutable graph version, with its nodes and links as AutoGPT graph JSON.",
    columns=(
        Column("graph_id", "text", "Graph id (UUID)."),
        Column("version", "int", "Version number (1, 2, 3 ...)."),
        Column("user_id", "text", "Owner."),
        Column("name", "text", "Name in this version."),
        Column("description", "text", "Description in this version."),
        Column("instructions", "text", "Instructions in this version, if any."),
        Column("node_count", "int", "Nodes in this version."),
        Column("link_count", "int", "Links in this version."),
        Column("nodes", "json", "Nodes: [{id, block_id, input_default, metadata}]."),
        Column("links", "json", "Links: [{id, source_id, sink_id, source_name, sink_name, is_static}]."),
        Column("created_at", "timestamp", "When this version was saved."),
    ),
    primary_key=("graph_id", "version"),
    indexes=(("user_id",),),
)


class GraphsProjection(Projection):
    """Graph aggregates -> ``graphs`` and ``graph_versions``."""

    name = "graphs"
    contexts = frozenset({"graphs"})
    tables = (GRAPHS, GRAPH_VERSIONS)

    def apply(self, batch: list[EventEnvelope], tx: ReadModelTx) -> None:
        for event in batch:
            data = event.data
            if event.type == "Graph.Created":
                self._version(tx, event, 1, data["content"], data["user_id"])
                content = data["content"]
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
            elif event.type == "Graph.VersionCreated":
                owner = self._owner(tx, event.aggregate_id)
                self._version(tx, event, int(data["version"]), data["content"], owner)
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
                    self._activate(tx, event, int(data["version"]), counts=False)
            elif event.type == "Graph.ActiveVersionChanged":
                self._activate(tx, event, int(data["version"]), counts=True)
            elif event.type == "Graph.Deleted":
                tx.execute(
                    f"UPDATE {tx.t('graphs')} SET is_deleted = TRUE, updated_at = :at, last_position = :position, "
                    "change_count = change_count + 1 WHERE graph_id = :graph_id",
                    {"at": event.timestamp, "position": event.position, "graph_id": event.aggregate_id},
                )

    def _owner(self, tx: ReadModelTx, graph_id: str) -> str:
        row = tx.fetchone(f"SELECT user_id FROM {tx.t('graphs')} WHERE graph_id = :id", {"id": graph_id})
        return str(row["user_id"]) if row else ""

    def _version(
        self, tx: ReadModelTx, event: EventEnvelope, version: int, content: dict[str, Any], owner: str
    ) -> None:
        created_at = event.data.get("created_at") or event.timestamp
        tx.execute(
            f"INSERT INTO {tx.t('graph_versions')} (graph_id, version, user_id, name, description, instructions, "
            "node_count, link_count, nodes, links, created_at) VALUES (:graph_id, :version, :user_id, :name, "
            ":description, :instructions, :node_count, :link_count, :nodes, :links, :created_at) "
            "ON CONFLICT (graph_id, version) DO NOTHING",
            {
                "graph_id": event.aggregate_id,
                "version": version,
                "user_id": owner,
                "name": content.get("name", ""),
                "description": content.get("description", ""),
                "instructions": content.get("instructions"),
                "node_count": len(content.get("nodes", [])),
                "link_count": len(content.get("links", [])),
                "nodes": tx.json(content.get("nodes", [])),
                "links": tx.json(content.get("links", [])),
                "created_at": created_at,
            },
        )

    def _activate(self, tx: ReadModelTx, event: EventEnvelope, version: int, *, counts: bool) -> None:
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
