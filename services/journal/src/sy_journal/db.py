"""A plain asyncpg pool next to the platform's SQLAlchemy engine: COPY and server-side cursors
are asyncpg features the journal needs for batch ingest and flat-memory exports."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from sy_platform.db import async_url


def dsn(database_url: str) -> str:
    return async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_pool(database_url: str, size: int = 6) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn(database_url), min_size=1, max_size=size)
