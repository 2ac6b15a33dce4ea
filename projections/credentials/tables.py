"""The credentials read-model table: ``read.integration_credentials`` (no secret, no ciphertext)."""

from __future__ import annotations

from projections.schema import Column, Table

INTEGRATION_CREDENTIALS = Table(
    name="integration_credentials",
    comment="One row per stored set of integration credentials: owner, provider, type and what may be shown.",
    columns=(
        Column("credentials_id", "text", "Credentials id (UUID)."),
        Column("user_id", "text", "Owner."),
        Column("provider", "text", "Provider, e.g. openai, github, http."),
        Column("type", "text", "api_key, oauth2, user_password or host_scoped."),
        Column("title", "text", "Title the owner gave them, if any."),
        Column("scopes", "json", "OAuth2 scopes (null for other types)."),
        Column("username", "text", "OAuth2 username (null for other types)."),
        Column("host", "text", "Host of host_scoped credentials (null for other types)."),
        Column("created_at", "timestamp", "When they were stored."),
        Column("last_position", "int", "Position in the accounts log of the last event applied to this row."),
    ),
    primary_key=("credentials_id",),
    indexes=(("user_id", "provider"),),
)
