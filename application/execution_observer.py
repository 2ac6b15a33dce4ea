"""What the executor tells the outside about runs and nodes ending (metrics listen; the executor does not care who).

The application layer stays free of any metrics library: the adapters
implement ``ExecutionObserver`` (``adapters.prometheus_metrics``) and the
composition root hands it to the executor.
"""

from __future__ import annotations

from typing import Protocol


class ExecutionObserver(Protocol):
    """Told when a graph execution or a node execution reaches a final status."""

    def run_ended(self, status: str, duration_seconds: float | None) -> None:
        """A run ended ``status`` (COMPLETED, TERMINATED, FAILED); its duration when it had started."""
        ...

    def node_ended(self, status: str) -> None:
        """A node execution ended ``status`` (COMPLETED or FAILED)."""
        ...


class NoObserver:
    """The default observer: nobody listens."""

    def run_ended(self, status: str, duration_seconds: float | None) -> None:
        """Ignore the run."""

    def node_ended(self, status: str) -> None:
        """Ignore the node."""
