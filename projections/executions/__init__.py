"""The executions read side: runs, node executions and per-graph, per-user and per-block statistics,
the projection that keeps them, and the queries that answer from them in AutoGPT's shapes (``models``)."""
