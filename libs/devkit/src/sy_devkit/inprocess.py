"""Run a service's FastAPI app in the test's own event loop, lifespan included.

Component tests use this with the real NATS and Postgres fixtures: the app starts exactly as in
production (runtime, streams, parts), and an httpx client talks to it through ASGI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from sy_devkit.auth import TEST_ADMIN_TOKEN


async def migrate(package: str, database_url: str) -> None:
    """Run a service's migrations (Alembic runs its own event loop, so in a thread)."""
    from sy_platform.migrations import upgrade

    await asyncio.to_thread(upgrade, package, database_url)


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
