"""Run a service's FastAPI app in the test's own event loop, lifespan included.

Component tests use this with the real NATS and Postgres fixtures: the app starts exactly as in
production (runtime, streams, parts), and an httpx client talks to it through ASGI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from sy_devkit.auth import TEST_ADMIN_TOKEN


async def migrate(package: str, database_url: str) -> None:
    """Run a service's migrations (Alembic runs its own event loop, so in a thread)."""
    from sy_platform.migrations import upgrade

    await asyncio.to_thread(upgrade, package, database_url)


@asynccontextmanager
async def migrated_engine(package: str, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url` with `package`'s schema migrated to head; disposed on exit."""
    from sy_platform.db import create_engine

    await migrate(package, database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def statements_run(engine: AsyncEngine, touching: str = "") -> list[str]:
    """From now on, the first word (INSERT, UPDATE, ...) of every statement `engine` runs that
    mentions `touching`: how a test tells one statement per batch from one per row."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if touching in statement:
            seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return seen


@asynccontextmanager
async def app_client(
    app: FastAPI, token: str | None = TEST_ADMIN_TOKEN
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app, sending `token` (the test admin token unless told otherwise;
    None sends no Authorization header)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://service", headers=headers
        ) as client:
            yield client
