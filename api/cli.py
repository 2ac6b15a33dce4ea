"""The ``agentgraph`` command line: serve, dev tokens, blocks, agents, tables and read models."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Collection
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.jwt_keys import JWTKeyError, load_jwt_config
from adapters.settings import Settings

if TYPE_CHECKING:
    from api.composition import Container, Part

app = typer.Typer(
    help="agentgraph: an event-sourced backend for AutoGPT-style agent graphs. Embedded (SQLite files in "
    "AGENTGRAPH_DATA_DIR, by default the per-user data folder) unless AGENTGRAPH_DATABASE_URL is set.",
    no_args_is_help=True,
)
agents_app = typer.Typer(help="Import and export AutoGPT agents.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")
projections_app = typer.Typer(help="Read models: status, rebuilds and parked events.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
db_app = typer.Typer(help="Event stores, read-model tables and Kafka topics.", no_args_is_help=True)
app.add_typer(db_app, name="db")
keys_app = typer.Typer(help="Master encryption keys of secrets at rest: generate, rotate.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, no traceback, then exit with ``code``."""
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    """The environment's settings; a bad value is a one-line error naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}={error['input']!r}: {error['msg']}"
            for error in exc.errors()
        )
        _fail(f"bad environment variable: {problems}")


def _open(settings: Settings, parts: Collection[Part]) -> Container:
    """The parts a command needs: embedded they are made if missing, distributed they must exist (db init)."""
    from api.composition import TablesMissingError, build_container, check_tables

    container = build_container(settings, parts=parts, create_tables=settings.embedded)
    if not settings.embedded:
        try:
            check_tables(container)
        except TablesMissingError as exc:
            container.close()
            _fail(str(exc))
    return container


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"agentgraph {package_version('agentgraph')}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Options that come before any command."""


@app.command()
def serve(
    role: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated roles to run: api (or its halves api-commands, api-queries), relay, "
            "projector, executor, notifier, scheduler (default: all in one process; the relay only with PostgreSQL "
            "and Kafka, the notifier only with Redis)"
        ),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default AGENTGRAPH_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default AGENTGRAPH_PORT or 8000)")] = None,
) -> None:
    """Run the platform (every role in one process) or some of its roles.

    Distributed (AGENTGRAPH_DATABASE_URL set), run `agentgraph db init` first; only the api roles need JWT_VERIFY_KEY.
    """
    import uvicorn

    from adapters.encryption_keys import EncryptionKeyError
    from api.app import create_app
    from api.bootstrap import RoleError, api_sides, build_for, choose_roles
    from api.composition import TablesMissingError
    from api.http_protocol import with_request_deadline
    from api.request_context import serve_log_config

    settings = _settings()
    try:
        roles = choose_roles(role, settings)
    except RoleError as exc:
        _fail(str(exc))
    try:
        # embedded: one process, it makes its own tables; distributed: `agentgraph db init` does, once
        container = build_for(roles, settings)
    except (JWTKeyError, EncryptionKeyError, TablesMissingError) as exc:  # e.g. a short HMAC key in production
        _fail(str(exc))
    where = f"SQLite in {settings.data_dir.resolve()}" if settings.embedded else "PostgreSQL"
    mode = "embedded" if settings.embedded else "distributed"
    console.print(f"agentgraph: [bold]{mode}[/bold] mode, roles {', '.join(roles)}, events in {where}", soft_wrap=True)
    try:
        sides = api_sides(roles)
        if not sides:
            asyncio.run(_run_workers(container, roles))
            return
        if container.jwt.generated_path is not None:
            console.print(
                f"No JWT_VERIFY_KEY set: using the dev key in {container.jwt.generated_path}.\n"
                "Mint a token with: [bold]agentgraph dev-token USER[/bold]",
                soft_wrap=True,
            )
        api = create_app(
            container,
            sides=sides,
            run_executor="executor" in roles,
            run_projector="projector" in roles,
            run_relay="relay" in roles,
            run_notifier="notifier" in roles,
            run_scheduler="scheduler" in roles,
        )
        uvicorn.run(
            api,
            host=host or settings.host,
            port=port or settings.port,
            log_level="info",
            log_config=serve_log_config(),  # every line names its request's X-Request-ID
            ws_max_size=settings.ws_max_message_bytes,  # a bigger client frame closes the socket with 1009
            ws_per_message_deflate=settings.ws_compression,  # off by default: see the setting
            http=with_request_deadline(settings.request_read_timeout_seconds),  # slow clients are cut off
        )
    finally:
        container.close()


async def _run_workers(container: Container, roles: list[str]) -> None:
    """Worker roles without the API: run until SIGINT/SIGTERM, then let go (runs resume elsewhere)."""
    from api.bootstrap import run_services

    # what uvicorn does for the API: the services' INFO lines (relay active, partitions owned) go to stderr
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with run_services(container, roles):
        console.print(f"running: {', '.join(roles)}")
        await stop.wait()


@app.command("dev-token")
def dev_token(
    user: Annotated[str, typer.Argument(help="User id (the token's 'sub')")],
    email: Annotated[str | None, typer.Option(help="Email claim")] = None,
    admin: Annotated[bool, typer.Option(help="Give the token the admin role")] = False,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 24 * 3600,
) -> None:
    """Print a bearer token `agentgraph serve` accepts (HMAC keys only); stderr names the key used.

    The key is JWT_VERIFY_KEY if set, else the dev key in the data folder (made on first use), the same file
    `serve` reads, from whichever directory either is started.
    """
    from api.auth import mint_token

    settings = _settings()
    try:
        config = load_jwt_config(settings)
        token = mint_token(config, user, email=email, role="admin" if admin else "user", ttl_seconds=ttl)
    except (JWTKeyError, ValueError) as exc:
        _fail(str(exc))
    source = f"the dev key in {config.generated_path}" if config.generated_path else "JWT_VERIFY_KEY"
    err_console.print(f"signed with {source}", soft_wrap=True, highlight=False)
    typer.echo(token)


@app.command()
def blocks(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON list instead of a table")] = False,
) -> None:
    """List the block library: name, id, pure (no outside effect), type, categories, input and output pins."""
    from api.composition import build_block_registry

    registry = build_block_registry(_settings())
    rows = [
        {
            "name": block.name(),
            "id": block.id,
            "pure": block.pure,
            "type": block.block_type.value,
            "categories": sorted(c.name for c in block.categories),
            "inputs": sorted(block.input_pins()),
            "outputs": sorted(block.output_pins()),
        }
        for block in registry.all()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    # name and id are what one copies: always whole; the other columns only where they fit
    detailed = console.width >= 120
    table = Table(title="Blocks")
    table.add_column("name", no_wrap=True)
    table.add_column("id", no_wrap=True, min_width=36)
    table.add_column("pure", no_wrap=True)
    for column in ("type", "categories", "inputs", "outputs") if detailed else ():
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [str(row["name"]), str(row["id"]), "yes" if row["pure"] else "no"]
        if detailed:
            cells.append(str(row["type"]))
            cells.extend(", ".join(cast(list[str], row[key])) for key in ("categories", "inputs", "outputs"))
        table.add_row(*cells)
    console.print(table)
    if not detailed:
        console.print("types, categories and pins: in a terminal of 120 columns or more, or with --json")
    console.print(f"{len(rows)} blocks")


@agents_app.command("import")
def import_agent(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An AutoGPT agent export (JSON)")],
    user: Annotated[str, typer.Option(help="Owner of the imported graph")] = "dev",
) -> None:
    """Import an AutoGPT export as a new graph owned by --user (written to the event store)."""
    from api.composition import Part
    from domain.agent_format import GraphPayload
    from domain.graph_validation import GraphValidationError
    from domain.json_codec import JSONLimitError, check_json_limits

    try:
        payload = GraphPayload.model_validate(check_json_limits(json.loads(file.read_text())))
    except (json.JSONDecodeError, ValidationError, JSONLimitError) as exc:
        _fail(f"{file} is not a graph export: {exc}")
    container = _open(_settings(), {Part.STORES})
    try:
        saved = container.graphs.create_graph(user, payload)
    except GraphValidationError as exc:
        err_console.print(f"[red]invalid graph:[/red] {escape(str(exc))}")
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
    graph = saved.content
    console.print(
        f"imported [bold]{escape(graph.name)}[/bold] as graph {saved.aggregate_id} v{saved.version} "
        f"({len(graph.nodes)} nodes, {len(graph.links)} links) for user {user}"
    )


@agents_app.command("export")
def export_agent(
    graph_id: Annotated[str, typer.Argument(help="The graph's id")],
    user: Annotated[str, typer.Option(help="Owner of the graph")] = "dev",
    version: Annotated[int | None, typer.Option(help="Version to export (default: the active one)")] = None,
) -> None:
    """Print one of --user's graphs as an AutoGPT export (JSON), as GET /api/graphs/{id}?for_export=true does."""
    from adapters.projection_runner import ProjectionRunner
    from api.composition import Part
    from domain.json_values import finite_json
    from domain.not_found import GraphNotFoundError
    from projections.registry import projection_named

    settings = _settings()
    # without Kafka this command can bring the read model up to date itself (no server need be running)
    container = _open(settings, {Part.READ_STORE} if settings.kafka_bootstrap else {Part.READ_STORE, Part.LOGS})
    try:
        if not settings.kafka_bootstrap:
            projection = projection_named("graphs")
            logs = {context: container.event_logs[context] for context in projection.contexts}
            asyncio.run(ProjectionRunner(container.read_store, [projection], logs).catch_up())
        export = container.graph_queries.export(user, graph_id, version).model_dump(mode="json")
    except GraphNotFoundError as exc:
        _fail(f"{exc} for user {user}", code=1)
    finally:
        container.close()
    typer.echo(json.dumps(finite_json(export), indent=2))


@db_app.command("init")
def db_init() -> None:
    """Create every event store, read-model table and Kafka topic, naming each (idempotent)."""
    from adapters.kafka_topics import ensure_topics
    from adapters.read_store import SCHEMA
    from api.composition import CONTEXTS, Part, build_container
    from application.contexts import LATER_CONTEXTS
    from projections.registry import all_projections

    settings = _settings()
    snapshotted = [context for context, app in LATER_CONTEXTS.items() if app.snapshotting_intervals]
    container = build_container(settings, parts={Part.LOGS, Part.READ_STORE})
    container.close()
    folder = settings.data_dir.resolve()
    if settings.database_url:
        console.print(f"event stores (PostgreSQL): {', '.join(f'{c}_events' for c in CONTEXTS)}", soft_wrap=True)
        if snapshotted:  # credit ledgers (application.accounts)
            console.print(f"snapshots (PostgreSQL): {', '.join(f'{c}_snapshots' for c in snapshotted)}")
        read_where = f"PostgreSQL schema {SCHEMA}"
    else:
        console.print(
            f"event stores (SQLite in {folder}): {', '.join(f'{c}.sqlite3' for c in CONTEXTS)}", soft_wrap=True
        )
        if snapshotted:
            console.print(f"snapshots (SQLite): {', '.join(f'{c}.sqlite3' for c in snapshotted)}")
        read_where = f"SQLite {folder / 'read.sqlite3'}"
    keys_where = "PostgreSQL table user_data_keys" if settings.database_url else f"SQLite {folder / 'keys.sqlite3'}"
    console.print(f"key table (wrapped data keys of secrets at rest): {keys_where}", soft_wrap=True)
    tables = ["projection_positions", "dead_letters", *(t.name for p in all_projections() for t in p.tables)]
    console.print(f"read models ({read_where}): {', '.join(f'{SCHEMA}.{t}' for t in tables)}", soft_wrap=True)
    if settings.kafka_bootstrap:
        ensure_topics(
            settings.kafka_bootstrap, settings.kafka_topic_prefix, sorted(CONTEXTS), settings.kafka_partitions
        )
        topics = ", ".join(f"{settings.kafka_topic_prefix}.{c}" for c in CONTEXTS)
        console.print(f"Kafka topics: {topics}", soft_wrap=True)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a fresh ``kid:base64key`` for AGENTGRAPH_ENCRYPTION_KEY (put it first, keep the old ones after it)."""
    from adapters.encryption_keys import new_key_entry

    typer.echo(new_key_entry())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-wrap every user's data key under the newest master key.

    Embedded with a generated key file: a new key is generated and put first in it. With
    AGENTGRAPH_ENCRYPTION_KEY: put the new key first yourself (`agentgraph keys generate`), run this,
    then the old keys may be dropped from the setting. Secrets themselves are not re-encrypted: they are
    sealed under the data keys, which stay the same.
    """
    from adapters.encryption_keys import EncryptionKeyError, add_generated_key
    from api.composition import Part

    settings = _settings()
    try:
        if not settings.encryption_key and settings.embedded:
            kid = add_generated_key(settings)
            console.print(f"new master key {kid} generated into {settings.data_dir.resolve()}", soft_wrap=True)
        container = _open(settings, {Part.SECRETS})
    except EncryptionKeyError as exc:
        _fail(str(exc))
    try:
        report = container.credentials.vault.rotate()
    finally:
        container.close()
    console.print(
        f"data keys re-wrapped under {report.newest_kid}: {report.rewrapped} (already under it: "
        f"{report.already_current})",
        soft_wrap=True,
    )


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's position against the head of each log (lag in events and seconds)."""
    from datetime import datetime

    from adapters.pipeline_metrics import applied_positions
    from api.composition import Part
    from projections.registry import all_projections

    container = _open(_settings(), {Part.LOGS, Part.READ_STORE})
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
    from adapters.kafka_topics import partition_for
    from adapters.read_store import Partitioning, rebuild_projection
    from api.composition import Part
    from projections.registry import all_projections, projection_named

    try:
        chosen = [projection_named(name)] if name else all_projections()
    except KeyError as exc:
        _fail(str(exc.args[0]))
    container = _open(_settings(), {Part.LOGS, Part.READ_STORE})
    try:
        logs = container.event_logs
        read = reader(logs)
        # with Kafka the live projector keeps a position per partition: the swap honours each
        count = container.settings.kafka_partitions
        by_key = (
            Partitioning(count, lambda key: partition_for(key, count)) if container.settings.kafka_bootstrap else None
        )
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            for projection in chosen:
                total = sum(logs[c].head() for c in projection.contexts)
                task = progress.add_task(f"rebuild {projection.name}", total=max(total, 1))

                def advance(count: int, task: TaskID = task) -> None:
                    progress.advance(task, count)

                rebuild_projection(container.read_store, projection, read, advance, partitions=by_key)
                progress.update(task, completed=max(total, 1))
        console.print(f"rebuilt {', '.join(p.name for p in chosen)}")
    finally:
        container.close()


@projections_app.command("dead-letters")
def projections_dead_letters(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as a JSON list instead of a table")] = False,
) -> None:
    """The events projections parked because they could not apply them (read.dead_letters)."""
    from api.composition import Part

    container = _open(_settings(), {Part.READ_STORE})
    try:
        letters = container.read_store.dead_letters()
    finally:
        container.close()
    if as_json:
        typer.echo(json.dumps([letter.as_json() for letter in letters], indent=2))
        return
    table = Table(title="Parked events")
    for column in ("id", "projection", "context", "position", "aggregate", "event type", "attempts", "last failure"):
        table.add_column(column, no_wrap=column in ("id", "aggregate"))
    table.add_column("error", overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.projection,
            letter.context,
            str(letter.log_position),
            letter.aggregate_id,
            letter.event_type,
            str(letter.attempts),
            letter.last_failure,
            escape(letter.error),
        )
    console.print(table)
    console.print(f"{len(letters)} parked event(s); re-apply them after a fix with: agentgraph projections retry")


@projections_app.command("retry")
def projections_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Parked events to re-apply (ids from dead-letters)")] = None,
    every: Annotated[bool, typer.Option("--all", help="Re-apply every parked event")] = False,
) -> None:
    """Re-apply parked events, read again from the event store (each aggregate's parked events together, in order)."""
    from api.composition import Part
    from projections.registry import all_projections

    if not ids and not every:
        _fail("name the parked events to retry (ids from `agentgraph projections dead-letters`), or --all")
    container = _open(_settings(), {Part.LOGS, Part.READ_STORE})
    try:
        logs = container.event_logs
        outcome = container.read_store.retry_parked(
            all_projections(), lambda context, position: logs[context].at(position), None if every else ids
        )
    finally:
        container.close()
    for letter in outcome.applied:
        console.print(f"applied #{letter.id}: {letter.projection} {letter.event_type} at {letter.log_position}")
    for letter, error in outcome.failed:
        err_console.print(f"[red]still failing[/red] #{letter.id}: {escape(error)}", soft_wrap=True)
    console.print(f"{len(outcome.applied)} applied, {len(outcome.failed)} still failing")
    if outcome.failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
