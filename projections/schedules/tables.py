"""The schedules read-model table: ``read.schedules`` (secret inputs masked, credentials as references)."""

from __future__ import annotations

from projections.schema import Column, Table

SCHEDULES = Table(
    name="schedules",
    comment="One row per live schedule (a deleted one is removed): owner, graph version, cron, inputs, next run.",
    columns=(
        Column("schedule_id", "text", "Schedule id (UUID): GraphExecutionJobInfo.id."),
        Column("user_id", "text", "Owner."),
        Column("graph_id", "text", "The scheduled graph."),
        Column("graph_version", "int", "The graph version each run runs (pinned when the schedule was made)."),
        Column("name", "text", "Name the owner gave it."),
        Column("cron", "text", "Standard 5-field cron expression, in the schedule's time zone."),
        Column("timezone", "text", "IANA time zone of the cron expression (e.g. Europe/Paris, UTC)."),
        Column("misfire", "text", "What missed ticks do: coalesce (one late run, the default) or skip."),
        Column("input_data", "json", "Graph inputs by name; a secret input's value shows as ********."),
        Column("input_credentials", "json", "Credentials references ({id, provider, type, title}) by field name."),
        Column("created_at", "timestamp", "When the schedule was made."),
        Column("last_tick", "timestamp", "The last tick dealt with (fired, missed or failed), if any."),
        Column("last_execution_id", "text", "The run the last fired tick started, if any."),
        Column("next_run_time", "timestamp", "The next tick (UTC): after last_tick, or after created_at."),
        Column("last_position", "int", "Position in the schedules log of the last event applied to this row."),
    ),
    primary_key=("schedule_id",),
    indexes=(("user_id", "graph_id"),),
)
