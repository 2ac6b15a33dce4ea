"""The executions read-model tables: runs, node executions, share links, and the statistics derived from them."""

from __future__ import annotations

from projections.schema import Column, Table

EXECUTIONS = Table(
    name="executions",
    comment="One row per graph execution (run), sub-agent runs included.",
    columns=(
        Column("execution_id", "text", "Execution id (UUID)."),
        Column("graph_id", "text", "Graph run."),
        Column("graph_version", "int", "Version the run is pinned to."),
        Column("user_id", "text", "Who started the run."),
        Column("parent_execution_id", "text", "The parent run when this is a sub-agent run."),
        Column("preset_id", "text", "The library preset the run was started from, if any."),
        Column("status", "text", "INCOMPLETE, QUEUED, RUNNING, COMPLETED, TERMINATED or FAILED."),
        Column("inputs", "json", "Graph inputs by input name."),
        Column(
            "credential_inputs",
            "json",
            "Credentials references by field ({id, provider, type, title}); never a secret.",
        ),
        Column("outputs", "json", "Graph outputs by output name: {name: [values]}."),
        Column("stats", "json", "AutoGPT's run stats (cost, duration, node_exec_count, ...)."),
        Column("error", "text", "Graph-level error of a FAILED run."),
        Column("executor_id", "text", "Executor that ran (or last resumed) the run."),
        Column("created_at", "timestamp", "When the run was requested."),
        Column("started_at", "timestamp", "When an executor started it."),
        Column("ended_at", "timestamp", "When it completed, failed or was terminated."),
        Column("duration_seconds", "float", "Wall time from start to end."),
        Column("cost", "float", "Credits charged."),
        Column("node_count", "int", "Node executions that ran."),
        Column("node_error_count", "int", "Node executions that failed."),
        Column("updated_at", "timestamp", "Time of the last event applied."),
        Column("last_position", "int", "Position in the executions log of the last event applied."),
        Column(
            "deleted_at",
            "timestamp",
            "When its owner deleted the run (soft, AutoGPT's isDeleted); NULL while it is not deleted. "
            "Every query and the statistics leave deleted runs out.",
        ),
        Column(
            "share_token",
            "text",
            "Token of the public link to its outputs while the owner shares it (NULL: not shared); "
            "see shared_executions.",
        ),
        Column("shared_at", "timestamp", "When the current share began (NULL: not shared)."),
    ),
    primary_key=("execution_id",),
    # (user_id, graph_id, created_at): a user's runs of one graph, counted from the index alone and paged newest
    # first without a sort; (graph_id, created_at) stays for the per-graph statistics, which read every user's runs
    indexes=(("user_id", "created_at"), ("user_id", "graph_id", "created_at"), ("graph_id", "created_at")),
)

NODE_EXECUTIONS = Table(
    name="node_executions",
    comment="One row per node execution inside a run.",
    columns=(
        Column("node_exec_id", "text", "Node execution id (UUID)."),
        Column("execution_id", "text", "The run it belongs to."),
        Column("node_id", "text", "Node of the graph version."),
        Column("block_id", "text", "Block the node runs."),
        Column("status", "text", "INCOMPLETE, QUEUED, RUNNING, COMPLETED, TERMINATED or FAILED."),
        Column("input_data", "json", "Inputs by pin."),
        Column("output_data", "json", "Outputs by pin: {pin: [values]}."),
        Column("error", "text", "Error message of a failed or terminated node execution."),
        Column("add_time", "timestamp", "When it was created (first input)."),
        Column("queue_time", "timestamp", "When it had every input and was queued."),
        Column("start_time", "timestamp", "When its block started."),
        Column("end_time", "timestamp", "When it ended."),
        Column("walltime_seconds", "float", "Block wall time."),
        Column("stats", "json", "Node stats (walltime, cputime, input/output sizes, LLM tokens ...)."),
    ),
    primary_key=("node_exec_id",),
    indexes=(("execution_id",), ("block_id",)),
)

SHARED_EXECUTIONS = Table(
    name="shared_executions",
    comment="One row per share token ever given to a run: the public link's lookup. A token works only while "
    "its run's executions.share_token still equals it (not revoked, run not deleted).",
    columns=(
        Column("share_token", "text", "Unguessable token of the public link (secrets.token_urlsafe, 256 bits)."),
        Column("execution_id", "text", "The shared run."),
        Column("user_id", "text", "Owner of the run (who shared it)."),
        Column("shared_at", "timestamp", "When the run was shared with this token."),
        Column("revoked_at", "timestamp", "When the token stopped working (unshared or run deleted); NULL while live."),
    ),
    primary_key=("share_token",),
    indexes=(("execution_id",),),
)

GRAPH_STATS = Table(
    name="graph_stats",
    comment="Per graph: how its runs went (deleted runs left out).",
    columns=(
        Column("graph_id", "text", "Graph id."),
        Column("user_id", "text", "Owner."),
        Column("runs", "int", "Top-level runs requested."),
        Column("completed", "int", "Runs that completed."),
        Column("failed", "int", "Runs that failed."),
        Column("terminated", "int", "Runs that were stopped."),
        Column("success_rate", "float", "completed / ended runs (NULL before any run ended)."),
        Column("avg_duration_seconds", "float", "Mean duration of ended runs."),
        Column("p95_duration_seconds", "float", "95th percentile duration of ended runs (nearest rank)."),
        Column("last_run_at", "timestamp", "When the latest run was requested."),
        Column("total_cost", "float", "Credits charged over all runs."),
    ),
    primary_key=("graph_id",),
)

USER_STATS = Table(
    name="user_stats",
    comment="Per user: runs and node executions (deleted runs left out).",
    columns=(
        Column("user_id", "text", "User id."),
        Column("runs", "int", "Top-level runs requested."),
        Column("completed", "int", "Runs that completed."),
        Column("failed", "int", "Runs that failed."),
        Column("terminated", "int", "Runs that were stopped."),
        Column("node_executions", "int", "Node executions that ran, over all runs."),
        Column("node_errors", "int", "Node executions that failed, over all runs."),
        Column("total_cost", "float", "Credits charged."),
        Column("last_run_at", "timestamp", "When the latest run was requested."),
    ),
    primary_key=("user_id",),
)

BLOCK_USAGE = Table(
    name="block_usage",
    comment="Per block: how often it ran, failed, and how long it took.",
    columns=(
        Column("block_id", "text", "Block id (AutoGPT's UUID)."),
        Column("runs", "int", "Node executions that ended (completed or failed)."),
        Column("failures", "int", "Node executions that failed."),
        Column("total_walltime_seconds", "float", "Sum of their wall times."),
        Column("avg_walltime_seconds", "float", "Mean wall time."),
    ),
    primary_key=("block_id",),
)
