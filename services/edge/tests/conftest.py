"""Fixtures of the edge's component tests (real Postgres from sy_devkit's plugin)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_devkit.inprocess import migrated_engine


@pytest.fixture
async def engine(new_database: Callable[[], str]) -> AsyncIterator[AsyncEngine]:
    """A fresh database with the edge schema at head."""
    async with migrated_engine("sy_edge", new_database()) as migrated:
        yield migrated
