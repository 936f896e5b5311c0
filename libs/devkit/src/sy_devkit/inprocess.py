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


async def migrate(package: str, database_url: str) -> None:
    """Run a service's migrations (Alembic runs its own event loop, so in a thread)."""
    from sy_platform.migrations import upgrade

    await asyncio.to_thread(upgrade, package, database_url)


@asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client
