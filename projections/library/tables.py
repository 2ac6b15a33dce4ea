"""The library read-model tables: ``read.library_agents`` and ``read.library_presets``.

``library_agents`` has two groups of columns written by two logs: the graphs
log (``Graph.Created`` puts the creator's own graph in their library) and the
accounts log (``LibraryAgent`` events: store adds, favourites, archive,
delete). Each group is written only by its own log, so the table is the same
whichever log a projector or a rebuild reads first. What the graph is now
(name, active version, nodes) is read at query time from the graphs read
model, and status and ``new_output`` from the runs read model
(``projections.library.queries``).
"""

from __future__ import annotations

from projections.schema import Column, Table

LIBRARY_AGENTS = Table(
    name="library_agents",
    comment=(
        "One row per (user, graph) in a user's library: own graphs (from the graphs log) and store agents, "
        "with the user's favourite/archive/delete choices (from the accounts log)."
    ),
    columns=(
        Column("library_agent_id", "text", "Library agent id: uuid5 of (user id, graph id), the LibraryAgent's id."),
        Column("user_id", "text", "Whose library."),
        Column("graph_id", "text", "The graph (the user's own, or a store agent's graph that stays its creator's)."),
        Column(
            "created_by_user", "bool", "True for a graph the user created (graphs log, or the entry's first event)."
        ),
        Column("graph_created_at", "timestamp", "When the user created the graph (graphs log; NULL for store agents)."),
        Column("graph_version", "int", "Version the entry points at when it does not follow the active one."),
        Column("auto_update_version", "bool", "Follows the graph's active version (NULL: the default, own graphs do)."),
        Column("granted_versions", "json", "Versions of another creator's graph the store gave this user: [3, 4]."),
        Column("image_url", "text", "The listing's image, for store agents."),
        Column("creator_name", "text", "The listing's creator name, for store agents."),
        Column("creator_image_url", "text", "The listing's creator avatar, for store agents."),
        Column("is_favorite", "bool", "Marked favourite."),
        Column("is_archived", "bool", "Archived: hidden from the list, still readable by id."),
        Column("is_deleted", "bool", "Removed from the library (soft)."),
        Column("added_at", "timestamp", "When the entry got its first library command."),
        Column("updated_at", "timestamp", "When a library command last changed the entry."),
        Column("last_position", "int", "Position in the accounts log of the last LibraryAgent event applied."),
    ),
    primary_key=("library_agent_id",),
    indexes=(("user_id",), ("graph_id",)),
)

LIBRARY_PRESETS = Table(
    name="library_presets",
    comment="One row per preset: saved inputs (secret ones masked) and credentials references of a graph version.",
    columns=(
        Column("preset_id", "text", "Preset id (UUID)."),
        Column("user_id", "text", "Owner."),
        Column("graph_id", "text", "The graph it runs."),
        Column("graph_version", "int", "The version it runs."),
        Column("name", "text", "Name."),
        Column("description", "text", "Description."),
        Column("is_active", "bool", "Active (AutoGPT's isActive)."),
        Column("inputs", "json", "Inputs by name; secret inputs masked (the events hold them sealed)."),
        Column("credentials", "json", "Credentials references by field ({id, provider, type, title}); never a secret."),
        Column("is_deleted", "bool", "Deleted (soft)."),
        Column("created_at", "timestamp", "When it was created."),
        Column("updated_at", "timestamp", "When it last changed."),
        Column("last_position", "int", "Position in the accounts log of the last event applied to this row."),
    ),
    primary_key=("preset_id",),
    indexes=(("user_id",),),
)
