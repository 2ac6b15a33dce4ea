"""Under ``CI=true`` a test never skips for something missing: every way a test can skip fails instead.

The ways are the service fixtures (PostgreSQL, Redis, Kafka, through
``tests.fixtures.services._unavailable``), ``require_module`` (an optional
package) and ``require_exports`` (the AutoGPT agent exports). The service
fixtures are run for real, in a pytest of their own pointed at a closed port
on loopback: without ``CI`` its tests skip, with ``CI=true`` they error.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import autogpt_facts
from tests.fixtures.services import ENV_CI, require_module

REPO = Path(__file__).resolve().parents[2]

PROBE = """
from tests.fixtures.services import require_module


def test_postgres(postgres_dsn):
    pass


def test_redis(redis_url):
    pass


def test_kafka(kafka_bootstrap):
    pass


def test_a_missing_package():
    require_module("agentgraph_no_such_package", "a package the probe lacks")
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_probe(tmp_path: Path, ci: str | None) -> tuple[str, str]:
    """The probe's pytest output and its summary line."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if k != ENV_CI}
    env.update(
        AGENTGRAPH_TEST_POSTGRES_DSN=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        AGENTGRAPH_TEST_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        AGENTGRAPH_TEST_KAFKA=f"127.0.0.1:{port}",
        PYTHONPATH=str(REPO),
    )
    if ci is not None:
        env[ENV_CI] = ci
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rsfE",
            "-p",
            "tests.fixtures.services",
            "-p",
            "no:cacheprovider",
            str(probe),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr, done.stdout.strip().splitlines()[-1]


def test_without_ci_what_is_missing_skips(tmp_path: Path) -> None:
    output, summary = _run_probe(tmp_path, ci=None)
    assert "4 skipped" in summary and "failed" not in summary and "error" not in summary, output[-3000:]


def test_under_ci_what_is_missing_fails_and_nothing_skips(tmp_path: Path) -> None:
    output, summary = _run_probe(tmp_path, ci="true")
    assert "skipped" not in summary, output[-3000:]
    assert "1 failed" in summary and "3 errors" in summary, output[-3000:]
    for service in ("PostgreSQL", "Redis", "Kafka", "agentgraph_no_such_package"):
        assert f"{service} unavailable ({ENV_CI}=true, so this is an error)" in output, service


def test_missing_agent_exports_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autogpt_facts, "agent_exports", list)
    monkeypatch.setenv(ENV_CI, "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true, so this is an error"):
        autogpt_facts.require_exports()
    monkeypatch.delenv(ENV_CI)
    with pytest.raises(pytest.skip.Exception):
        autogpt_facts.require_exports()


def test_a_missing_package_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CI, "TRUE")  # any case
    with pytest.raises(pytest.fail.Exception, match="CI=true, so this is an error"):
        require_module("agentgraph_no_such_package", "a package this test lacks")
