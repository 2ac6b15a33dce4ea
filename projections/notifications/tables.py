"""The notifications read-model tables.

Notifications come from several contexts' logs (executions, accounts, graphs, store), which a rebuild replays
one context after another, not in the order they were live: so no row depends on another context's events.
The agent name of a notification, the read mark and the preferences are joined at query time from tables of
their own (``notification_agents``, ``notification_reads``, ``notification_preferences``).
"""

from __future__ import annotations

from projections.schema import Column, Table

NOTIFICATIONS = Table(
    name="notifications",
    comment="One row per notification of a user (AutoGPT's NotificationEvent: type, user_id, created_at, data).",
    columns=(
        Column("id", "text", "Notification id: uuid5 of its type and the id of the event it comes from (stable)."),
        Column("user_id", "text", "Whom it is for."),
        Column("type", "text", "AGENT_RUN, LOW_BALANCE, ZERO_BALANCE, BLOCK_EXECUTION_FAILED, AGENT_APPROVED ..."),
        Column("data", "json", "AutoGPT's data fields of the type (agent_name and block_name added when read)."),
        Column("graph_id", "text", "The graph it is about, if any (its name is the agent_name)."),
        Column("graph_version", "int", "The version of that graph, if known."),
        Column("created_at", "timestamp", "When the event it comes from happened."),
        Column("event_id", "text", "Id of that event."),
        Column("context", "text", "The context whose log holds that event."),
        Column("position", "int", "Position of that event in its context's log."),
    ),
    primary_key=("id",),
    indexes=(("user_id", "created_at"),),
)

NOTIFICATION_RUNS = Table(
    name="notification_runs",
    comment="What an AGENT_RUN or BLOCK_EXECUTION_FAILED notification needs to know of a run while it goes on.",
    columns=(
        Column("execution_id", "text", "The run."),
        Column("user_id", "text", "Who started it."),
        Column("graph_id", "text", "Its graph."),
        Column("graph_version", "int", "Its graph version."),
        Column("sub_run", "bool", "True for a sub-agent's run (part of its parent's run: no AGENT_RUN of its own)."),
        Column("nodes", "json", "node_exec_id -> [node_id, block_id] of every node execution queued so far."),
        Column("outputs", "json", "Graph outputs so far: [{name, output: [values]}] in the order first produced."),
        Column("last_position", "int", "Position in the executions log of the last event applied to this row."),
    ),
    primary_key=("execution_id",),
)

NOTIFICATION_AGENTS = Table(
    name="notification_agents",
    comment="The name of each graph version (the agent_name of notifications).",
    columns=(
        Column("graph_id", "text", "Graph."),
        Column("version", "int", "Version."),
        Column("name", "text", "The graph's name in that version."),
    ),
    primary_key=("graph_id", "version"),
)

NOTIFICATION_PREFERENCES = Table(
    name="notification_preferences",
    comment="Each user's saved notification preferences (users without a row have AutoGPT's defaults).",
    columns=(
        Column("user_id", "text", "Owner."),
        Column("email", "text", "Where e-mails go ('' for none)."),
        Column("preferences", "json", "{TYPE: bool} for every type a user can turn off."),
        Column("daily_limit", "int", "At most this many e-mails per UTC day."),
        Column("updated_at", "timestamp", "When they were last saved."),
        Column("email_since", "timestamp", "When this e-mail address was set: older notifications are not e-mailed."),
    ),
    primary_key=("user_id",),
)

NOTIFICATION_READS = Table(
    name="notification_reads",
    comment="Notifications a user marked read.",
    columns=(
        Column("user_id", "text", "Owner."),
        Column("notification_id", "text", "The notification."),
        Column("read_at", "timestamp", "When it was marked read."),
    ),
    primary_key=("user_id", "notification_id"),
)

NOTIFICATION_EMAILS = Table(
    name="notification_emails",
    comment="Notifications the deliverer handled: e-mailed (alone or in a digest) or dropped (never e-mailed).",
    columns=(
        Column("notification_id", "text", "The notification."),
        Column("user_id", "text", "Owner."),
        Column("status", "text", "SENT or DROPPED."),
        Column("mail_key", "text", "SENT: the e-mail's key (one key per e-mail: a digest's notifications share it)."),
        Column("at", "timestamp", "When it was sent (the deliverer's clock) or dropped."),
        Column("day", "text", "SENT: the UTC day it counts against the daily limit (YYYY-MM-DD)."),
    ),
    primary_key=("notification_id",),
    indexes=(("user_id", "day"),),
)
