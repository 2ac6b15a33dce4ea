"""One user's endless loop does not starve another user: ``agentgraph serve`` as a real process, over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import embedded_server
from tests.unit.api.graph_samples import CALCULATOR, INPUT, calculator

LOOP = {
    "name": "loop",
    "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "Input"}},
        {"id": "c1", "block_id": CALCULATOR, "input_default": {"b": 1, "operation": "Add"}},
        {"id": "c2", "block_id": CALCULATOR, "input_default": {"b": 1, "operation": "Add"}},
    ],
    "links": [
        {"source_id": "in", "sink_id": "c1", "source_name": "result", "sink_name": "a"},
        {"source_id": "c1", "sink_id": "c2", "source_name": "result", "sink_name": "a"},
        {"source_id": "c2", "sink_id": "c1", "source_name": "result", "sink_name": "a"},
    ],
}


def bearer(env: dict[str, str], user: str) -> dict[str, str]:
    token = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", user], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def create(base: str, headers: dict[str, str], graph: dict[str, object]) -> str:
    created = httpx.post(f"{base}/api/graphs", json={"graph": graph}, headers=headers, timeout=30)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def run_until_completed(base: str, headers: dict[str, str], graph_id: str, deadline: float = 120) -> float:
    """Execute, then read the run until it shows COMPLETED, as a client does; returns how long that took."""
    started = time.monotonic()
    answer = httpx.post(
        f"{base}/api/graphs/{graph_id}/execute/1", json={"inputs": {"Input": 8}}, headers=headers, timeout=60
    )
    assert answer.status_code == 200, answer.text
    run_url = f"{base}/api/graphs/{graph_id}/executions/{answer.json()['id']}"
    while time.monotonic() - started < deadline:
        read = httpx.get(run_url, headers=headers, timeout=60)
        if read.status_code == 200 and read.json()["status"] == "COMPLETED":
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"bob's run did not complete within {deadline} s")


def test_another_users_run_completes_in_about_its_usual_time_while_a_loop_runs(tmp_path: Path) -> None:
    with embedded_server(tmp_path, {"AGENTGRAPH_MAX_NODE_EXECUTIONS": "10000000"}) as (base, env, _):
        alice, bob = bearer(env, "alice"), bearer(env, "bob")
        loop, calc = create(base, alice, LOOP), create(base, bob, calculator())
        usual = min(run_until_completed(base, bob, calc) for _ in range(3))

        looping = httpx.post(
            f"{base}/api/graphs/{loop}/execute/1", json={"inputs": {"Input": 0}}, headers=alice, timeout=60
        )
        assert looping.status_code == 200, looping.text
        looped = time.monotonic()
        during: list[float] = []
        while time.monotonic() - looped < 25:  # long enough for a backlog to build up, if one builds up
            during.append(run_until_completed(base, bob, calc))
            time.sleep(1)

        # unpaced, the loop outran the commit and the read models: bob waited longer and longer (20 s and more)
        assert max(during) < 5.0, f"bob's runs took {during} s while alice looped (alone: {usual:.2f} s)"
        stop = httpx.post(f"{base}/api/graphs/{loop}/executions/{looping.json()['id']}/stop", headers=alice, timeout=60)
        assert stop.status_code == 200 and stop.json()["status"] == "TERMINATED", stop.text[:300]
