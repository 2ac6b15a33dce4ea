"""The graphs read-model tables: ``read.graphs`` and ``read.graph_versions``."""

from __future__ import annotations

from projections.schema import Column, Table

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
        Column("recommended_schedule_cron", "text", "The cron schedule the author recommends, if any."),
        Column("forked_from_id", "text", "The graph this one was forked from, if any."),
        Column("forked_from_version", "int", "The version it was forked from, if any."),
        Column("node_count", "int", "Nodes in this version."),
        Column("link_count", "int", "Links in this version."),
        Column("nodes", "json", "Nodes: [{id, block_id, input_default, metadata}]."),
        Column("links", "json", "Links: [{id, source_id, sink_id, source_name, sink_name, is_static}]."),
        Column("created_at", "timestamp", "When this version was saved."),
    ),
    primary_key=("graph_id", "version"),
    indexes=(("user_id",),),
)
