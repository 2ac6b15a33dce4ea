"""The notifier is a role of its own with Redis, and part of every API process without it."""

from __future__ import annotations

import pytest

from adapters.settings import Settings
from api.bootstrap import NOTIFIER_NEEDS, RoleError, choose_roles


def test_the_notifier_role_runs_only_with_redis() -> None:
    assert "notifier" not in choose_roles(None, Settings())
    assert "notifier" in choose_roles(None, Settings(AGENTGRAPH_REDIS_URL="redis://127.0.0.1:6379/0"))
    assert choose_roles("notifier", Settings(AGENTGRAPH_REDIS_URL="redis://127.0.0.1:6379/0")) == ["notifier"]
    with pytest.raises(RoleError, match="AGENTGRAPH_REDIS_URL") as refused:
        choose_roles("api,notifier", Settings())
    assert str(refused.value) == NOTIFIER_NEEDS
