"""AutoGPT's wire field sets, as facts (``../shared/autogpt``: API.md, GRAPH_RULES.md, SUBGRAPHS.md).

Tests compare our answers with these sets; where we add a key beyond
AutoGPT (``consistency_token`` on command answers, ``code`` on errors) the
test says so.
"""

from __future__ import annotations

GRAPH_KEY_ORDER = [
    "id",
    "version",
    "is_active",
    "name",
    "description",
    "instructions",
    "recommended_schedule_cron",
    "forked_from_id",
    "forked_from_version",
    "user_id",
    "created_at",
    "nodes",
    "links",
    "sub_graphs",
    "input_schema",
    "output_schema",
    "has_external_trigger",
    "has_human_in_the_loop",
    "has_sensitive_action",
    "trigger_setup_info",
    "credentials_input_schema",
]
"""A GraphModel's keys in the newest export's order (GRAPH_RULES.md, ``calculator-agent.json``)."""
GRAPH_MODEL = set(GRAPH_KEY_ORDER)
GRAPH_META = set(GRAPH_KEY_ORDER[: GRAPH_KEY_ORDER.index("created_at") + 1])
NODE_MODEL = {
    "id",
    "block_id",
    "input_default",
    "metadata",
    "input_links",
    "output_links",
    "graph_id",
    "graph_version",
    "webhook_id",
}
SUB_GRAPH_NODE = {"id", "block_id", "input_default", "metadata", "input_links", "output_links"}
LINK = {"id", "source_id", "sink_id", "source_name", "sink_name", "is_static"}
GRAPH_EXECUTION_META = {
    "id",
    "user_id",
    "graph_id",
    "graph_version",
    "preset_id",
    "status",
    "started_at",
    "ended_at",
    "inputs",
    "credential_inputs",
    "nodes_input_masks",
    "stats",
    # newer GraphExecutionMeta versions' sharing flags (WEBSOCKET.md: "e.g. sharing flags")
    "is_shared",
    "share_token",
}
GRAPH_EXECUTION_WITH_NODES = GRAPH_EXECUTION_META | {"outputs", "node_executions"}
NODE_EXECUTION_RESULT = {
    "user_id",
    "graph_id",
    "graph_version",
    "graph_exec_id",
    "node_exec_id",
    "node_id",
    "block_id",
    "status",
    "input_data",
    "output_data",
    "add_time",
    "queue_time",
    "start_time",
    "end_time",
}
EXECUTION_STATS = {
    "cost",
    "duration",
    "duration_cpu_only",
    "node_exec_time",
    "node_exec_time_cpu_only",
    "node_exec_count",
    "node_error_count",
    "error",
    "activity_status",
    "correctness_score",
}
