"""Where the AutoGPT facts folder (``../shared/autogpt``) is, when it exists.

Tests over the real agent exports read them, never copy them. Without the
folder they are skipped on a developer's machine and fail under ``CI=true``
(CI always has the folder beside the checkout), like a missing service.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fixtures.services import in_ci

_REPO = Path(__file__).resolve().parents[1]


def autogpt_folder() -> Path | None:
    """``AGENTGRAPH_AUTOGPT_FACTS`` if set, else ``../shared/autogpt`` beside the repo."""
    configured = os.environ.get("AGENTGRAPH_AUTOGPT_FACTS")
    candidates = [Path(configured)] if configured else []
    candidates.append(_REPO.parent / "shared" / "autogpt")
    return next((c for c in candidates if (c / "agents").is_dir()), None)


def agent_exports() -> list[Path]:
    """Every agent export in the facts folder (empty when the folder is absent)."""
    folder = autogpt_folder()
    return sorted((folder / "agents").glob("*.json")) if folder else []


def require_exports() -> list[Path]:
    """The agent exports; without them, skip the calling test, or fail it under ``CI=true``."""
    exports = agent_exports()
    if not exports:
        reason = "../shared/autogpt/agents is not beside this checkout (or set AGENTGRAPH_AUTOGPT_FACTS)"
        if in_ci():
            pytest.fail(f"AutoGPT agent exports missing (CI=true, so this is an error): {reason}", pytrace=False)
        pytest.skip(reason)
    return exports


@pytest.fixture
def autogpt_exports() -> list[Path]:
    """``require_exports()`` as a fixture."""
    return require_exports()
