"""The executions read models: runs, node executions, and per-graph, per-user and per-block statistics."""
