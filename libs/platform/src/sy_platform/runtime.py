"""What every service holds while it runs: its NATS connection, JetStream and database engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sy_bus import connect, permissions, streams
from sy_platform.db import create_engine, ping, session_factory
from sy_platform.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    service: str
    settings: ServiceSettings
    nc: Client
    js: JetStreamContext
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def check_nats(self) -> None:
        if not self.nc.is_connected:
            raise RuntimeError("not connected to NATS")

    async def check_database(self) -> None:
        await ping(self.engine)


@asynccontextmanager
async def runtime(service: str, settings: ServiceSettings) -> AsyncIterator[Runtime]:
    nc = await connect(
        settings.nats_url,
        name=f"sy-{service}-{settings.instance_id}",
        auth=settings.nats_auth(),
        inbox_prefix=permissions.inbox_prefix(service),
    )
    js = nc.jetstream()
    await streams.ensure_streams(js)
    engine = create_engine(settings.database_url)
    try:
        yield Runtime(service, settings, nc, js, engine, session_factory(engine))
    finally:
        try:
            await nc.drain()
        except Exception:  # already closed: nothing left to drain
            log.debug("nats drain failed", exc_info=True)
        await engine.dispose()
