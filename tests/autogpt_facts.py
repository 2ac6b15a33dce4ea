"""Where the AutoGPT facts folder (``../shared/autogpt``) is, when it exists.

Tests over the real agent exports run only when the folder is there; they
read the exports, never copy them.
"""

from __future__ import annotations

import os
from pathlib import Path

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
