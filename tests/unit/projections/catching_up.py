"""Run a projection runner until it applied everything its logs hold now."""

from __future__ import annotations

import asyncio

from adapters.event_log import EventLog
from adapters.projection_runner import ProjectionRunner


async def until_applied(runner: ProjectionRunner, logs: dict[str, EventLog], timeout: float = 30.0) -> None:
    """Wait until every projection of the (running) ``runner`` applied each of its contexts' current head."""
    heads = {context: event_log.head() for context, event_log in logs.items()}
    async with asyncio.timeout(timeout):
        while not all(
            runner.store.positions(p.name).get(context, 0) >= heads[context]
            for p in runner.projections
            for context in p.contexts
        ):
            await asyncio.sleep(0.01)


async def run_until_caught_up(runner: ProjectionRunner, logs: dict[str, EventLog]) -> None:
    """Start ``runner``, let it apply what the logs hold now, stop it."""
    await runner.start()
    try:
        await until_applied(runner, logs)
    finally:
        await runner.close()
