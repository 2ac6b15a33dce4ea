"""Read models in PostgreSQL's ``read`` schema: documented, live, and equal to a rebuild."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from adapters.event_log import reader
from adapters.read_store import rebuild_projection
from adapters.settings import Settings
from projections.registry import all_projections
from tests.unit.engine.harness import start_platform
from tests.unit.projections.test_read_models import _busy_history, _caught_up, _snapshot

pytestmark = pytest.mark.integration


def _settings(postgres_dsn: str, tmp_path: Path) -> Settings:
    return Settings(
        AGENTGRAPH_DATABASE_URL=postgres_dsn,
        JWT_VERIFY_KEY="read-models-" + "k" * 40,
        AGENTGRAPH_DATA_DIR=tmp_path / "data",
    )


async def test_postgres_read_models_equal_a_rebuild(postgres_dsn: str, tmp_path: Path) -> None:
    async for platform in start_platform(tmp_path, settings=_settings(postgres_dsn, tmp_path)):
        history = await _busy_history(platform)
        await _caught_up(platform)
        live = _snapshot(platform)
        assert len(live["executions"]) == 5 and len(live["graphs"]) == 4
        runs = {r["execution_id"]: r for r in live["executions"]}
        assert runs[str(history["runs"][2].id)]["outputs"] == {"y": [3.0]}  # jsonb comes back as JSON
        for projection in all_projections():
            rebuild_projection(platform.container.read_store, projection, reader(platform.container.event_logs))
        assert _snapshot(platform) == live


def test_every_read_table_and_column_is_documented(postgres_dsn: str, tmp_path: Path) -> None:
    from api.composition import build_container

    container = build_container(_settings(postgres_dsn, tmp_path))
    container.close()
    with psycopg.connect(postgres_dsn) as conn:
        tables = conn.execute(
            "SELECT c.relname, obj_description(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'read' AND c.relkind = 'r'"
        ).fetchall()
        undocumented_columns = conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'read' AND c.relkind = 'r' "
            "AND a.attnum > 0 AND NOT a.attisdropped "
            "AND col_description(c.oid, a.attnum) IS NULL"
        ).fetchall()
    assert {name for name, _ in tables} == {
        "graphs",
        "graph_versions",
        "executions",
        "node_executions",
        "graph_stats",
        "user_stats",
        "block_usage",
        "shared_executions",
        "audit_log",
        "api_keys",
        "credit_transactions",
        "credit_balances",
        "credit_refund_requests",
        "integration_credentials",
        "store_profiles",
        "store_listings",
        "schedules",
        "store_listing_versions",
        "store_reviews",
        "store_graph_runs",
        "store_deleted_graphs",
        "store_generation",
        "library_agents",
        "library_presets",
        "notifications",
        "notification_runs",
        "notification_agents",
        "notification_preferences",
        "notification_reads",
        "notification_emails",
        "projection_positions",
        "dead_letters",
    }
    assert all(comment for _, comment in tables)
    assert undocumented_columns == []


async def test_infinite_outputs_are_stored_and_do_not_stall_the_projector(postgres_dsn: str, tmp_path: Path) -> None:
    """A division by zero yields inf, which JSON (and jsonb) cannot hold: it is stored as "Infinity"."""
    from tests.unit.engine.harness import CALCULATOR, INPUT, OUTPUT, link, node

    async for platform in start_platform(tmp_path, settings=_settings(postgres_dsn, tmp_path)):
        divider = platform.add_graph(
            [
                node("in", INPUT, name="x"),
                node("calc", CALCULATOR, operation="Divide", b=0),
                node("out", OUTPUT, name="y"),
            ],
            [link("in", "result", "calc", "a"), link("calc", "result", "out", "value")],
            name="divider",
        )
        first = await platform.run(divider, {"x": 1})
        second = await platform.run(divider, {"x": -1})
        await _caught_up(platform)
        views = platform.container.run_queries
        assert views.get_run(platform.user, str(first.id)).outputs == {"y": ["Infinity"]}
        assert views.get_run(platform.user, str(second.id)).outputs == {
            "y": ["Infinity"]
        }  # AutoGPT: x / 0 is inf whatever the sign
        live = _snapshot(platform)
        for projection in all_projections():
            rebuild_projection(platform.container.read_store, projection, reader(platform.container.event_logs))
        assert _snapshot(platform) == live
