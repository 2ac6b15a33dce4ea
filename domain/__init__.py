"""The pure domain model of agentgraph: graphs, blocks, executions. No I/O."""
