"""The API keys read-model table: ``read.api_keys`` (no secret: head and tail only, never the hash)."""

from __future__ import annotations

from projections.schema import Column, Table

API_KEYS = Table(
    name="api_keys",
    comment="One row per API key: owner, name, head and tail (never the key or its hash), status, permissions.",
    columns=(
        Column("key_id", "text", "API key id (UUID)."),
        Column("user_id", "text", "Owner."),
        Column("name", "text", "Name the owner gave it."),
        Column("description", "text", "Description, if any."),
        Column("head", "text", "First 8 characters of the key (agpt_...): how a key is looked up."),
        Column("tail", "text", "Last 8 characters of the key."),
        Column("status", "text", "ACTIVE, SUSPENDED or REVOKED."),
        Column("permissions", "json", 'Permissions, e.g. ["EXECUTE_GRAPH"].'),
        Column("created_at", "timestamp", "When the key was created."),
        Column("last_used_at", "timestamp", "Latest recorded use (batched: may lag real use by the flush interval)."),
        Column("revoked_at", "timestamp", "When the key was revoked, if it was."),
        Column("last_position", "int", "Position in the accounts log of the last event applied to this row."),
    ),
    primary_key=("key_id",),
    indexes=(("user_id",), ("head",)),
)
