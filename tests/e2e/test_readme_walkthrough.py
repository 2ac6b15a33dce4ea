"""The README's walk-through, run as the README writes it, on a copy of the repository without ``../shared``.

The commands come from the fenced block after ``<!-- walkthrough -->`` in
README.md and run in bash from the copy's root, with their own data folder
and a free port (``AGENTGRAPH_PORT``), as a reader who cloned the repository
and ran ``pip install -e .`` would run them: ``agentgraph`` is this copy's CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- walkthrough -->\n```bash\n(.*?)```", re.DOTALL)


def _plain_copy(destination: Path) -> Path:
    """What a fresh clone holds: the tracked files (and new ones not ignored), nothing built, no ``../shared``."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet committed is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def _installed_cli(bin_dir: Path, clone: Path) -> dict[str, str]:
    """``agentgraph`` on PATH running the copy's code, as ``pip install -e .`` in the copy would make it."""
    bin_dir.mkdir()
    shim = bin_dir / "agentgraph"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m api.cli "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return {"PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])}


def test_the_readme_walkthrough_runs_the_example_graph_from_a_plain_copy(tmp_path: Path) -> None:
    found = MARKER.search((ROOT / "README.md").read_text())
    assert found, "README.md has no ```bash block after <!-- walkthrough -->"
    script = found.group(1)
    assert "../shared" not in script

    clone = _plain_copy(tmp_path / "agentgraph")
    assert not (clone.parent / "shared").exists() and not (clone / ".agentgraph").exists()
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTGRAPH_", "JWT_"))},
        **_installed_cli(tmp_path / "bin", clone),
        "PYTHONPATH": str(clone),  # the copy's packages, not the checkout this test runs from
        "AGENTGRAPH_DATA_DIR": str(data),
        "AGENTGRAPH_PORT": str(free_port()),
    }
    walk = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the server it starts is in this group: nothing outlives the test
    )
    try:
        out, err = walk.communicate(timeout=180)
    finally:
        server_gone = _wait_group_gone(walk.pid, timeout=15)
    log = (clone / "agentgraph.log").read_text() if (clone / "agentgraph.log").exists() else "(no agentgraph.log)"
    assert walk.returncode == 0, f"stderr:\n{err}\nserver log:\n{log}"

    run = json.loads(out)  # what the reader sees: the run, pretty-printed
    assert run["status"] == "COMPLETED", out
    assert run["inputs"] == {"a": 6, "b": 7}
    assert run["outputs"] == {"product": [42.0]}
    assert err.strip() == f"signed with the dev key in {data / 'jwt-dev-secret'}"
    assert f"SQLite in {data}" in log and "Application startup complete" in log
    assert server_gone, "the walk-through's `kill $SERVER` left the server running"


def _wait_group_gone(group: int, timeout: float) -> bool:
    """True once no process of ``group`` is left; kills what is left after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    return False


@pytest.fixture(autouse=True)
def _needs_bash_and_curl() -> None:
    for tool in ("bash", "curl", "git"):
        assert shutil.which(tool), f"the walk-through needs {tool}"
