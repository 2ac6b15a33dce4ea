"""The ``platform`` fixture: an embedded platform per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.engine.harness import Platform, start_platform


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    async for running in start_platform(tmp_path):
        yield running
