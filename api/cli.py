"""The ``agentgraph`` command line: serve, dev tokens, blocks, agent import."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from adapters.jwt_keys import MissingJWTKeyError, load_jwt_config
from adapters.settings import Settings

if TYPE_CHECKING:
    from api.composition import Container

app = typer.Typer(help="agentgraph: an event-sourced backend for AutoGPT-style agent graphs.", no_args_is_help=True)
agents_app = typer.Typer(help="Import and export AutoGPT agents.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")
projections_app = typer.Typer(help="Read models: status and rebuilds.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
db_app = typer.Typer(help="Database tables.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


ROLES = ("api", "relay", "projector", "executor")
"""Process roles this build offers (the scheduler comes with schedules). The relay runs only with Kafka."""


def _parse_roles(value: str | None) -> set[str]:
    if not value:
        return set(ROLES)
    roles = {part.strip() for part in value.split(",") if part.strip()}
    if "scheduler" in roles:
        raise typer.BadParameter(
            "the scheduler role comes with schedules, which have no aggregates yet (their event store exists); "
            f"this build runs: {', '.join(ROLES)}"
        )
    unknown = roles - set(ROLES)
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {', '.join(sorted(unknown))}; choose from {', '.join(ROLES)}")
    return roles


@app.command()
def serve(
    role: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated roles to run: api, relay, projector, executor (default: all, in one process)"
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default AGENTGRAPH_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default AGENTGRAPH_PORT or 8000)")] = None,
) -> None:
    """Run the platform. Embedded (SQLite in AGENTGRAPH_DATA_DIR) unless AGENTGRAPH_DATABASE_URL is set."""
    import uvicorn

    from api.app import create_app
    from api.composition import TablesMissingError, build_container, check_tables

    roles = _parse_roles(role)
    settings = Settings()
    if "relay" in roles and not (settings.database_url and settings.kafka_bootstrap):
        if role and "relay" in role:
            err_console.print(
                "[red]error:[/red] the relay needs AGENTGRAPH_DATABASE_URL and AGENTGRAPH_KAFKA_BOOTSTRAP"
            )
            raise typer.Exit(2)
        roles.discard("relay")  # embedded: the projector reads the logs directly
    try:
        # embedded: one process, it makes its own tables; distributed: `agentgraph db init` does, once
        container = build_container(settings, create_tables=settings.embedded)
    except MissingJWTKeyError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        if not settings.embedded:
            check_tables(container)
    except TablesMissingError as exc:
        container.close()
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    where = f"SQLite in {settings.data_dir.resolve()}" if settings.embedded else "PostgreSQL"
    mode = "embedded" if settings.embedded else "distributed"
    console.print(f"agentgraph: [bold]{mode}[/bold] mode, roles {', '.join(sorted(roles))}, events in {where}")
    try:
        if "api" not in roles:
            asyncio.run(_run_workers(container, roles))
            return
        if container.jwt.generated_path is not None:
            console.print(
                f"No JWT_VERIFY_KEY set: using the dev key in {container.jwt.generated_path}.\n"
                "Mint a token with: [bold]agentgraph dev-token USER[/bold]"
            )
        api = create_app(
            container,
            run_executor="executor" in roles,
            run_projector="projector" in roles,
            run_relay="relay" in roles,
        )
        uvicorn.run(api, host=host or settings.host, port=port or settings.port, log_level="info")
    finally:
        container.close()


async def _run_workers(container: Container, roles: set[str]) -> None:
    """Worker roles without the API: run until SIGINT/SIGTERM, then let go (runs resume elsewhere)."""
    from api.composition import ExecutorService, ProjectionService, RelayService

    services: list[ExecutorService | ProjectionService | RelayService] = []
    if "relay" in roles:
        services.append(RelayService(container))
    if "projector" in roles:
        services.append(ProjectionService(container))
    if "executor" in roles:
        services.append(ExecutorService(container))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for service in services:
        await service.start()
    console.print(f"running: {', '.join(sorted(roles))}")
    try:
        await stop.wait()
    finally:
        for service in reversed(services):
            await service.stop()


@app.command("dev-token")
def dev_token(
    user: Annotated[str, typer.Argument(help="User id (the token's 'sub')")],
    email: Annotated[str | None, typer.Option(help="Email claim")] = None,
    admin: Annotated[bool, typer.Option(help="Give the token the admin role")] = False,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 24 * 3600,
) -> None:
    """Print a bearer token the local server accepts (HMAC keys only)."""
    from api.auth import mint_token

    settings = Settings()
    try:
        config = load_jwt_config(settings)
        token = mint_token(config, user, email=email, role="admin" if admin else "user", ttl_seconds=ttl)
    except (MissingJWTKeyError, ValueError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(token)


@app.command()
def blocks() -> None:
    """List the block library."""
    from api.composition import build_block_registry

    registry = build_block_registry(Settings())
    table = Table(title="Blocks")
    table.add_column("name")
    table.add_column("id")
    table.add_column("type")
    table.add_column("categories")
    table.add_column("inputs")
    table.add_column("outputs")
    for block in registry.all():
        table.add_row(
            block.name(),
            block.id,
            block.block_type.value,
            ", ".join(sorted(c.name for c in block.categories)),
            ", ".join(sorted(block.input_pins())),
            ", ".join(sorted(block.output_pins())),
        )
    console.print(table)
    console.print(f"{len(registry)} blocks")


@agents_app.command("import")
def import_agent(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An AutoGPT agent export (JSON)")],
    user: Annotated[str, typer.Option(help="Owner of the imported graph")] = "dev",
) -> None:
    """Import an AutoGPT export as a new graph owned by --user."""
    from api.composition import build_container
    from domain.agent_format import GraphPayload
    from domain.graph_validation import GraphValidationError

    try:
        payload = GraphPayload.model_validate(json.loads(file.read_text()))
    except (json.JSONDecodeError, ValidationError) as exc:
        err_console.print(f"[red]error:[/red] {file} is not a graph export: {exc}")
        raise typer.Exit(2) from None
    container = build_container(Settings())
    try:
        view = container.graphs.create_graph(user, payload)
    except GraphValidationError as exc:
        err_console.print(f"[red]invalid graph:[/red] {exc}")
        table = Table("node", "pin", "problem")
        for node_id, pins in exc.node_errors.items():
            for pin, message in pins.items():
                table.add_row(node_id, pin, message)
        for message in exc.graph_errors:
            table.add_row("(graph)", "", message)
        err_console.print(table)
        raise typer.Exit(1) from None
    finally:
        container.close()
    graph = view.graph
    console.print(
        f"imported [bold]{graph.name}[/bold] as graph {graph.id} v{graph.version} "
        f"({len(graph.nodes)} nodes, {len(graph.links)} links) for user {user}"
    )


@db_app.command("init")
def db_init() -> None:
    """Create every event-store and read-model table (idempotent)."""
    from adapters.kafka_topics import ensure_topics
    from api.composition import build_container

    settings = Settings()
    container = build_container(settings)
    try:
        where = "PostgreSQL" if settings.database_url else str(settings.data_dir.resolve())
        console.print(f"event stores (graphs, executions) and read models ready in {where}")
        if settings.kafka_bootstrap:
            contexts = sorted(container.event_logs)
            ensure_topics(settings.kafka_bootstrap, settings.kafka_topic_prefix, contexts, settings.kafka_partitions)
            console.print(f"Kafka topics ready: {', '.join(f'{settings.kafka_topic_prefix}.{c}' for c in contexts)}")
    finally:
        container.close()


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's position against the head of each log (lag in events and seconds)."""
    from datetime import datetime

    from adapters.pipeline_metrics import applied_positions
    from api.composition import build_container
    from projections.registry import all_projections

    container = build_container(Settings())
    try:
        logs = container.event_logs
        table = Table("projection", "context", "applied", "head", "lag (events)", "lag (seconds)")
        for projection in all_projections():
            # what the metrics endpoint reports too (with Kafka: the furthest partition of each context)
            for context, applied in applied_positions(container.read_store, projection).items():
                head = logs[context].head()
                lag_seconds = 0.0
                if applied < head:
                    newest, done = logs[context].at(head), logs[context].at(applied)
                    if newest is not None:
                        since = datetime.fromisoformat(done.timestamp) if done else None
                        newest_at = datetime.fromisoformat(newest.timestamp)
                        lag_seconds = (newest_at - since).total_seconds() if since else float("nan")
                table.add_row(
                    projection.name, context, str(applied), str(head), str(head - applied), f"{lag_seconds:.1f}"
                )
        console.print(table)
    finally:
        container.close()


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[str | None, typer.Argument(help="Projection to rebuild (default: every projection)")] = None,
) -> None:
    """Replay the event store into shadow tables, then swap them in (live projectors keep running)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from adapters.event_log import reader
    from api.composition import build_container
    from projections.registry import all_projections, projection_named

    try:
        chosen = [projection_named(name)] if name else all_projections()
    except KeyError as exc:
        err_console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from None
    container = build_container(Settings())
    try:
        logs = container.event_logs
        read = reader(logs)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            for projection in chosen:
                total = sum(logs[c].head() for c in projection.contexts)
                task = progress.add_task(f"rebuild {projection.name}", total=max(total, 1))

                def advance(count: int, task: TaskID = task) -> None:
                    progress.advance(task, count)

                # with Kafka the live projector keeps a position per partition: the swap honours each
                partitions = container.settings.kafka_partitions if container.settings.kafka_bootstrap else None
                container.read_store.rebuild(projection, read, advance, kafka_partitions=partitions)
                progress.update(task, completed=max(total, 1))
        console.print(f"rebuilt {', '.join(p.name for p in chosen)}")
    finally:
        container.close()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
