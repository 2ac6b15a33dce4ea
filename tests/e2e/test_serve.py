"""``agentgraph serve`` as a real process, talked to over HTTP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import embedded_server
from tests.unit.api.graph_samples import calculator


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with embedded_server(tmp_path) as (base, env, _):
        yield base, env
    output = (tmp_path / "serve.log").read_text()
    assert "agentgraph dev-token USER" in output  # told how to get a token


def test_serve_embedded_takes_a_dev_token_and_stores_a_graph(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    token = subprocess.run(
        [sys.executable, "-m", "api.cli", "dev-token", "alice"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    created = httpx.post(f"{base}/api/graphs", json={"graph": calculator()}, headers=headers, timeout=10)
    assert created.status_code == 200, created.text
    read_own_write = {**headers, "X-Consistency-Token": created.headers["X-Consistency-Token"]}
    graph = httpx.get(f"{base}/api/graphs/{created.json()['id']}", headers=read_own_write, timeout=10).json()
    assert len(graph["nodes"]) == 3 and len(graph["links"]) == 2
    result = httpx.post(
        f"{base}/api/blocks/b1ab9b19-67a6-406d-abf5-2dba76d00c79/execute",
        json={"a": 8, "b": 34, "operation": "Add"},
        headers=headers,
        timeout=10,
    )
    assert result.json() == {"result": [42.0]}
    assert httpx.get(f"{base}/api/graphs", timeout=10).status_code == 401
