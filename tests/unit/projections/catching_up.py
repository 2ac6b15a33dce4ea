"""Run a projection runner until it applied everything its logs hold now."""

from __future__ import annotations

from adapters.event_log import EventLog
from adapters.projection_runner import ProjectionRunner


async def until_applied(runner: ProjectionRunner, logs: dict[str, EventLog], timeout: float = 30.0) -> None:
    """Wait until every projection of the (running) ``runner`` applied each of its contexts' current head."""
    await runner.until_applied({context: event_log.head() for context, event_log in logs.items()}, timeout)


async def run_until_caught_up(runner: ProjectionRunner, logs: dict[str, EventLog]) -> None:
    """Start ``runner``, let it apply what the logs hold now, stop it."""
    await runner.catch_up()
