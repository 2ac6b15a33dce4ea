"""Query and command latency of ``agentgraph serve`` with 1,000,000 executions in the read models (issue 9).

Run on demand::

    pip install -e ".[dev,bench]"   # the load generator (aiohttp) is in the bench extra
    pytest -o addopts="" tests/benchmarks/test_api_latency.py -s

Smaller or shorter (to check the benchmark itself), by environment variables:

- ``AGENTGRAPH_BENCH_EXECUTIONS``: runs seeded in the read models (default 1,000,000);
- ``AGENTGRAPH_BENCH_SECONDS``: measured seconds per load (default 30), after
  ``AGENTGRAPH_BENCH_WARM_UP_SECONDS`` (default 5) whose requests are not counted;
- ``AGENTGRAPH_BENCH_QUERY_RATE`` / ``AGENTGRAPH_BENCH_COMMAND_RATE``: requests per
  second (default 200 and 50);
- ``AGENTGRAPH_BENCH_ASSERT_TARGETS=1``: fail when a p99 misses its target (off by
  default: absolute figures depend on the machine, and a shared machine makes them noisy).

The server is the real thing: ``agentgraph db init`` then ``agentgraph serve``
(every role in one process: API, in-process projector and executor) on a fresh
PostgreSQL database, so the event stores and the ``read.*`` read models are on
PostgreSQL as in a deployment. No Kafka: the projector follows the event
stores' logs directly, which changes nothing on the query path (every GET
reads only the read models) and keeps Kafka's own latency out of the figures.

Seeding, so that the figures are of a realistic read model and not of an
empty one:

1. the user under test creates ``GRAPHS`` graphs (the calculator example)
   through the API and runs one of them once; the projector writes that run's
   row in ``read.executions`` and its node rows in ``read.node_executions``;
2. that real row and its node rows are the template: PostgreSQL clones them
   ``AGENTGRAPH_BENCH_EXECUTIONS`` times with ``INSERT ... SELECT ... FROM
   generate_series`` (a multi-row insert computed in the server, far faster
   than shipping rows over COPY), so every seeded row has exactly the shape
   the projection writes (same JSON documents, same columns, same node
   count); each clone gets its own ids (md5-derived UUIDs), its own times
   (one run every 5 s going back in time, the template's start/end/node
   offsets kept) and, for one run in twenty, FAILED with an error;
3. runs are spread over ``USERS`` other users with ``GRAPHS_PER_USER`` graphs
   each; the user under test owns one run in ``1 / USER_SHARE`` (1%: 10,000
   runs at full scale, a heavy user of a platform), spread over their graphs;
4. ``graph_stats``, ``user_stats`` and ``block_usage`` are recomputed from the
   seeded rows with the projection's own formulas (nearest-rank p95 is
   ``percentile_disc``), so the read model is consistent;
5. positions: every clone keeps the template's ``last_position``, which the
   projector has already applied, and no event in the store names a cloned
   id, so the projector never revisits or chokes on them; new runs (the
   command benchmark) are ordinary events past that position;
6. ``VACUUM ANALYZE`` on the two tables, as autovacuum would have done on a
   table that grew over months (planner statistics, visibility map).

Load comes from a separate process (``tests.benchmarks.open_loop_client``)
on loopback: open loop, requests due on a fixed schedule whatever the answers,
latency counted from the time each request was due (queueing included, no
coordinated omission). The query load cycles through the routes a client
uses: ``GET /api/graphs``, ``/api/graphs/{id}``, ``/api/graphs/{id}/executions``
(pages 1 to 4), ``/api/executions`` (pages 1 to 4) and
``/api/graphs/{id}/executions/{exec_id}`` (1,000 runs of the user, sampled at
random). The command load cycles through ``POST /api/graphs``, ``PUT
/api/graphs/{id}`` (the user's graphs in turn) and ``POST
/api/graphs/{id}/execute/1``; the runs started execute in the same server
process, as they would, so their work is part of what the commands compete
with. ``AGENTGRAPH_MAX_RUNNING_PER_USER`` is raised to 10,000 so that the cap
on concurrent runs never answers 429 in the middle of a latency benchmark.

Before each load, every route is timed alone (one request at a time, closed
loop): what one request costs the one server process, and so the rate it can
sustain at most. A rate near that capacity makes queueing the p99 whatever the
queries cost; when the open-loop figures run into seconds, the table above
them says whether the machine (shared, or its cores busy) or the server is
short.

Every request must answer 200: an error would make a latency meaningless.
The tables print p50, p90, p99 and max per route and overall, the machine's
load average before each load, and whether the client kept its schedule
(the p99 of how late it sent; a late client is charged to the server anyway).
Targets (issue 9): query p99 <= 15 ms, command p99 <= 30 ms.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from projections.executions.tables import EXECUTIONS as RUNS_TABLE
from projections.executions.tables import NODE_EXECUTIONS as NODES_TABLE
from tests.fixtures.services import fresh_database, require_module
from tests.serving import free_port, wait_until_healthy

pytestmark = pytest.mark.benchmark

require_module("aiohttp", 'the load generator is in the bench extra: pip install -e ".[dev,bench]"')

EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "examples" / "calculator.json"
KEY = "qbench-" + "k" * 40
USER = "qbench-user-under-test"


def _env_number(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


SEEDED = int(_env_number("AGENTGRAPH_BENCH_EXECUTIONS", 1_000_000))
SECONDS = _env_number("AGENTGRAPH_BENCH_SECONDS", 30)
WARM_UP = _env_number("AGENTGRAPH_BENCH_WARM_UP_SECONDS", 5)
QUERY_RATE = _env_number("AGENTGRAPH_BENCH_QUERY_RATE", 200)
COMMAND_RATE = _env_number("AGENTGRAPH_BENCH_COMMAND_RATE", 50)
ASSERT_TARGETS = os.environ.get("AGENTGRAPH_BENCH_ASSERT_TARGETS") == "1"
USERS = 1000
GRAPHS_PER_USER = 10
USER_SHARE = 0.01
GRAPHS = 20
SEED_CHUNK = 100_000
QUERY_TARGET_MS, COMMAND_TARGET_MS = 15.0, 30.0


@dataclass
class Server:
    """The served platform: its URL, database, the user under test's headers and graphs."""

    base: str
    dsn: str
    headers: dict[str, str]
    graphs: list[str]
    log: Path


@pytest.fixture(scope="module")
def server(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``agentgraph serve`` on a fresh PostgreSQL database, its read models seeded (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("qbench")
    with fresh_database(postgres_server) as dsn:
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTGRAPH_", "JWT_"))},
            "AGENTGRAPH_DATABASE_URL": dsn,
            "AGENTGRAPH_ENCRYPTION_KEY": os.environ["AGENTGRAPH_ENCRYPTION_KEY"],  # tests/conftest.py's test key
            "AGENTGRAPH_DATA_DIR": str(tmp / "data"),
            "AGENTGRAPH_PORT": str(port),
            "AGENTGRAPH_MAX_RUNNING_PER_USER": "10000",
            # the limiter stays in the path (its cost is part of every request) but never answers 429 here
            "AGENTGRAPH_RATE_LIMIT_PER_MINUTE": "100000000",
            "JWT_VERIFY_KEY": KEY,
        }
        subprocess.run([sys.executable, "-m", "api.cli", "db", "init"], env=env, check=True, capture_output=True)
        log = tmp / "serve.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base, lambda: process.poll() is None, log.read_text, timeout=60)
            token = subprocess.run(
                [sys.executable, "-m", "api.cli", "dev-token", USER],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            headers = {"Authorization": f"Bearer {token}"}
            graphs = _create_graphs(base, headers)
            template = _run_once(base, headers, graphs[0])
            _seed(dsn, template, graphs)
            yield Server(base, dsn, headers, graphs, log)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _create_graphs(base: str, headers: dict[str, str]) -> list[str]:
    graphs = []
    for _ in range(GRAPHS):
        created = httpx.post(
            f"{base}/api/graphs",
            content=EXAMPLE.read_bytes(),
            headers={**headers, "Content-Type": "application/json"},
            timeout=30,
        )
        assert created.status_code == 200, created.text
        graphs.append(created.json()["id"])
    return graphs


def _run_once(base: str, headers: dict[str, str], graph_id: str) -> str:
    """A real run of the calculator, completed and projected: the seeding's template."""
    started = httpx.post(
        f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": {"a": 6, "b": 7}}, headers=headers, timeout=30
    )
    assert started.status_code == 200, started.text
    run_id: str = started.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        run = httpx.get(f"{base}/api/graphs/{graph_id}/executions/{run_id}", headers=headers, timeout=30)
        if run.status_code == 200 and run.json()["status"] == "COMPLETED":
            return run_id
        assert time.monotonic() < deadline, run.text
        time.sleep(0.2)


def _seed(dsn: str, template: str, graphs: list[str]) -> None:
    """Clone the template run ``SEEDED`` times in PostgreSQL, then make the statistics agree (module docstring)."""
    every = max(1, round(1 / USER_SHARE))
    at = datetime.now(UTC)
    # per clone i: its id, owner, graph, time and status; every other column is the template's
    run_id = "md5('qbench-run-' || i)::uuid::text"
    other_user = f"((i * 7919) %% {USERS})"
    shift = "(s.at - t.created_at)"
    runs = {
        "execution_id": run_id,
        "graph_id": f"CASE WHEN i %% {every} = 0 THEN (%(graphs)s::text[])[1 + (i / {every}) %% {len(graphs)}] "
        f"ELSE md5('qbench-graph-' || {other_user} || '-' || (i %% {GRAPHS_PER_USER}))::uuid::text END",
        "user_id": f"CASE WHEN i %% {every} = 0 THEN %(user)s ELSE 'qbench-user-' || {other_user} END",
        "status": "CASE WHEN i %% 20 = 7 THEN 'FAILED' ELSE t.status END",
        "error": "CASE WHEN i %% 20 = 7 THEN 'seeded failure: the block raised' ELSE t.error END",
        "created_at": "s.at",
        "started_at": f"t.started_at + {shift}",
        "ended_at": f"t.ended_at + {shift}",
        "updated_at": f"t.updated_at + {shift}",
    }
    nodes = {
        "node_exec_id": "md5('qbench-node-' || i || '-' || t.node_exec_id)::uuid::text",
        "execution_id": run_id,
        # a node's times move as its run's: by (clone's created_at - template run's created_at)
        **{c: f"t.{c} + (s.at - r.created_at)" for c in ("add_time", "queue_time", "start_time", "end_time")},
    }
    run_columns = [c.name for c in RUNS_TABLE.columns]
    node_columns = [c.name for c in NODES_TABLE.columns]
    insert_runs = (
        f"INSERT INTO read.executions ({', '.join(run_columns)}) "
        f"SELECT {', '.join(runs.get(c, f't.{c}') for c in run_columns)} "
        "FROM read.executions t, generate_series(%(low)s::bigint, %(high)s::bigint) i, "
        "LATERAL (SELECT %(at)s::timestamptz - i * interval '5 seconds' AS at) s "
        "WHERE t.execution_id = %(template)s"
    )
    insert_nodes = (
        f"INSERT INTO read.node_executions ({', '.join(node_columns)}) "
        f"SELECT {', '.join(nodes.get(c, f't.{c}') for c in node_columns)} "
        "FROM read.executions r JOIN read.node_executions t ON t.execution_id = r.execution_id, "
        "generate_series(%(low)s::bigint, %(high)s::bigint) i, "
        "LATERAL (SELECT %(at)s::timestamptz - i * interval '5 seconds' AS at) s "
        "WHERE r.execution_id = %(template)s"
    )
    started = time.perf_counter()
    params: dict[str, Any] = {"graphs": graphs, "user": USER, "at": at, "template": template}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for low in range(1, SEEDED + 1, SEED_CHUNK):
            chunk = {**params, "low": low, "high": min(SEEDED, low + SEED_CHUNK - 1)}
            with conn.transaction():
                conn.execute(insert_runs, chunk)
                conn.execute(insert_nodes, chunk)
        _recompute_statistics(conn)
        conn.execute("VACUUM ANALYZE read.executions")
        conn.execute("VACUUM ANALYZE read.node_executions")
        counts = conn.execute(
            "SELECT (SELECT COUNT(*) FROM read.executions), (SELECT COUNT(*) FROM read.node_executions), "
            "(SELECT COUNT(*) FROM read.executions WHERE user_id = %s)",
            (USER,),
        ).fetchone()
    assert counts is not None
    print(
        f"\nseeded {SEEDED:,} runs in {time.perf_counter() - started:.0f} s: read.executions {counts[0]:,} rows "
        f"(the user under test: {counts[2]:,}), read.node_executions {counts[1]:,} rows"
    )


def _recompute_statistics(conn: psycopg.Connection[Any]) -> None:
    """``graph_stats``, ``user_stats``, ``block_usage`` from the rows, by ``projections.executions.stats``' rules."""
    ended = "SUM(CASE WHEN status = '{}' THEN 1 ELSE 0 END)"
    counts = f"{ended.format('COMPLETED')}, {ended.format('FAILED')}, {ended.format('TERMINATED')}"
    conn.execute(_graph_stats_sql(counts))
    conn.execute(
        "INSERT INTO read.user_stats (user_id, runs, completed, failed, terminated, node_executions, node_errors, "
        "total_cost, last_run_at) "
        f"SELECT user_id, COUNT(*), {counts}, COALESCE(SUM(node_count), 0), COALESCE(SUM(node_error_count), 0), "
        "COALESCE(SUM(cost), 0), MAX(created_at) FROM read.executions WHERE parent_execution_id IS NULL "
        "GROUP BY user_id ON CONFLICT (user_id) DO UPDATE SET runs = EXCLUDED.runs, "
        "completed = EXCLUDED.completed, failed = EXCLUDED.failed, terminated = EXCLUDED.terminated, "
        "node_executions = EXCLUDED.node_executions, node_errors = EXCLUDED.node_errors, "
        "total_cost = EXCLUDED.total_cost, last_run_at = EXCLUDED.last_run_at"
    )
    conn.execute(
        "INSERT INTO read.block_usage (block_id, runs, failures, total_walltime_seconds, avg_walltime_seconds) "
        "SELECT block_id, COUNT(*), SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END), "
        "COALESCE(SUM(walltime_seconds), 0), AVG(walltime_seconds) FROM read.node_executions "
        "WHERE status IN ('COMPLETED', 'FAILED') GROUP BY block_id "
        "ON CONFLICT (block_id) DO UPDATE SET runs = EXCLUDED.runs, failures = EXCLUDED.failures, "
        "total_walltime_seconds = EXCLUDED.total_walltime_seconds, avg_walltime_seconds = EXCLUDED.avg_walltime_seconds"
    )


def _graph_stats_sql(counts: str) -> str:
    return (
        "INSERT INTO read.graph_stats (graph_id, user_id, runs, completed, failed, terminated, success_rate, "
        "avg_duration_seconds, p95_duration_seconds, last_run_at, total_cost) "
        "SELECT graph_id, user_id, runs, completed, failed, terminated, "
        "CASE WHEN completed + failed + terminated > 0 "
        "THEN completed::float / (completed + failed + terminated) END, avg_d, p95, last_run_at, cost FROM ("
        f"SELECT graph_id, MIN(user_id), COUNT(*), {counts}, AVG(duration_seconds), "
        "percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_seconds), MAX(created_at), "
        "COALESCE(SUM(cost), 0) FROM read.executions WHERE parent_execution_id IS NULL GROUP BY graph_id"
        ") AS x(graph_id, user_id, runs, completed, failed, terminated, avg_d, p95, last_run_at, cost) "
        "ON CONFLICT (graph_id) DO UPDATE SET runs = EXCLUDED.runs, completed = EXCLUDED.completed, "
        "failed = EXCLUDED.failed, terminated = EXCLUDED.terminated, success_rate = EXCLUDED.success_rate, "
        "avg_duration_seconds = EXCLUDED.avg_duration_seconds, p95_duration_seconds = EXCLUDED.p95_duration_seconds, "
        "last_run_at = EXCLUDED.last_run_at, total_cost = EXCLUDED.total_cost"
    )


def _load(plan_requests: list[dict[str, Any]], base: str, rate: float, tmp_path: Path) -> dict[str, Any]:
    """Run the open-loop client in its own process; its result (see ``open_loop_client``)."""
    plan = {"base": base, "rate": rate, "warm_up_seconds": WARM_UP, "seconds": SECONDS, "requests": plan_requests}
    plan_path, result_path = tmp_path / "plan.json", tmp_path / "result.json"
    plan_path.write_text(json.dumps(plan))
    subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.open_loop_client", str(plan_path), str(result_path)],
        check=True,
        timeout=WARM_UP + SECONDS + 300,
    )
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 1000) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


def _report(title: str, result: dict[str, Any], rate: float, target_ms: float, load: tuple[float, ...]) -> float:
    """Print p50/p90/p99/max per route and overall; check every counted request answered 200; the overall p99."""
    counted = [row for row in result["rows"] if not row[3]]
    failures = [row for row in counted if row[2] != 200]
    by_route: dict[str, list[float]] = {}
    for route, latency, _, _ in counted:
        by_route.setdefault(route, []).append(latency)
    everything = [row[1] for row in counted]
    print(
        f"\n{title}: {rate:.0f} requests/s open loop for {SECONDS:.0f} s after {WARM_UP:.0f} s of warm-up; "
        f"{SEEDED:,} runs seeded; load average before: {' '.join(f'{x:.2f}' for x in load)}; "
        f"client send lag p99 {result['send_lag_p99_ms']:.1f} ms"
    )
    print(f"{'route':<52} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for route, values in [*sorted(by_route.items()), ("overall", everything)]:
        print(
            f"{route:<52} {len(values):>6} {_percentile(values, 0.5):>8.1f} {_percentile(values, 0.9):>8.1f} "
            f"{_percentile(values, 0.99):>8.1f} {max(values):>8.1f}"
        )
    p99 = _percentile(everything, 0.99)
    print(f"target p99 <= {target_ms:.0f} ms: {'met' if p99 <= target_ms else 'MISSED'} ({p99:.1f} ms)")
    assert not failures, f"{len(failures)} of {len(counted)} requests failed, e.g. {failures[:5]}"
    return p99


def _service_times(kind: str, requests: list[dict[str, Any]], base: str) -> None:
    """Print each route's time with nothing else in flight (one request at a time, 10 per route, median).

    What one request costs the server, so the open-loop figures can be read: a
    single server process answers at most about ``1000 / mean ms`` requests/s,
    and a rate near that makes queueing, not the queries, the p99.
    """
    times: dict[str, list[float]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for request in requests[: 10 * len({r["route"] for r in requests})]:
            began = time.perf_counter()
            answer = client.request(
                request["method"], request["path"], json=request.get("json"), headers=request["headers"]
            )
            times.setdefault(request["route"], []).append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.text
    medians = {route: sorted(values)[len(values) // 2] for route, values in times.items()}
    mean = sum(medians.values()) / len(medians)
    print(f"\n{kind} routes one at a time (closed loop, median of {min(map(len, times.values()))}):")
    for route, median in sorted(medians.items()):
        print(f"  {route:<50} {median:>7.1f} ms")
    print(f"  one process's capacity for this mix: about {1000 / mean:.0f} requests/s")


def _sample_runs(dsn: str) -> list[tuple[str, str]]:
    """1,000 of the user's runs, picked at random: (run id, graph id)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT execution_id, graph_id FROM read.executions WHERE user_id = %s ORDER BY random() LIMIT 1000",
            (USER,),
        ).fetchall()
    return [(str(run), str(graph)) for run, graph in rows]


def test_query_latency(server: Server, tmp_path: Path) -> None:
    """The read routes a client uses, at ``QUERY_RATE`` requests/s: p99 against 15 ms."""
    runs = _sample_runs(server.dsn)
    requests: list[dict[str, Any]] = []
    for k in range(1000):
        graph = server.graphs[k % len(server.graphs)]
        run, run_graph = runs[k % len(runs)]
        page = 1 + (k // 5) % 4
        choices = [
            ("GET /api/graphs", "/api/graphs"),
            ("GET /api/graphs/{id}", f"/api/graphs/{graph}"),
            ("GET /api/graphs/{id}/executions", f"/api/graphs/{graph}/executions?page={page}"),
            ("GET /api/executions", f"/api/executions?page={page}"),
            ("GET /api/graphs/{id}/executions/{exec_id}", f"/api/graphs/{run_graph}/executions/{run}"),
        ]
        route, path = choices[k % len(choices)]
        requests.append({"route": route, "method": "GET", "path": path, "headers": server.headers})
    _service_times("query", requests, server.base)
    load = os.getloadavg()
    p99 = _report(
        "query latency", _load(requests, server.base, QUERY_RATE, tmp_path), QUERY_RATE, QUERY_TARGET_MS, load
    )
    if ASSERT_TARGETS:
        assert p99 <= QUERY_TARGET_MS


def test_command_latency(server: Server, tmp_path: Path) -> None:
    """Create, save a version, run, at ``COMMAND_RATE`` requests/s: p99 against 30 ms."""
    body = json.loads(EXAMPLE.read_text())
    requests: list[dict[str, Any]] = []
    for k in range(300):
        graph = server.graphs[(k // 3) % len(server.graphs)]
        choices = [
            ("POST /api/graphs", "POST", "/api/graphs", {"graph": {**body, "name": f"bench graph {k}"}}),
            ("PUT /api/graphs/{id}", "PUT", f"/api/graphs/{graph}", {**body, "name": f"bench version {k}"}),
            ("POST /api/graphs/{id}/execute/1", "POST", f"/api/graphs/{graph}/execute/1", {"inputs": {"a": k, "b": 2}}),
        ]
        route, method, path, payload = choices[k % len(choices)]
        requests.append({"route": route, "method": method, "path": path, "json": payload, "headers": server.headers})
    _service_times("command", requests[-30:], server.base)
    load = os.getloadavg()
    result = _load(requests, server.base, COMMAND_RATE, tmp_path)
    p99 = _report("command latency", result, COMMAND_RATE, COMMAND_TARGET_MS, load)
    if ASSERT_TARGETS:
        assert p99 <= COMMAND_TARGET_MS
