"""What every service holds while it runs: its NATS connection, JetStream and database engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

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


def provisions_itself(settings: ServiceSettings) -> bool:
    """The dev fallback: connected as the NATS admin user, or to a NATS with no users at all, a
    service creates the streams and buckets itself. With its own user (the chart, `switchyard
    run`, the tests) it may not, and only checks that the admin's provisioning ran."""
    if settings.nats_token or settings.nats_creds:
        return False
    if settings.nats_user:
        return settings.nats_user == permissions.ADMIN_USER
    users = {urlsplit(url.strip()).username for url in settings.nats_url.split(",")}
    return users <= {None, permissions.ADMIN_USER}


@asynccontextmanager
async def runtime(service: str, settings: ServiceSettings) -> AsyncIterator[Runtime]:
    nc = await connect(
        settings.nats_url,
        name=f"sy-{service}-{settings.instance_id}",
        auth=settings.nats_auth(),
        inbox_prefix=permissions.inbox_prefix(service),
    )
    js = nc.jetstream()
    try:
        if provisions_itself(settings):
            await streams.provision(js)
        else:
            await streams.verify(js)
    except BaseException as exc:
        if isinstance(exc, streams.NotProvisioned):
            log.error("%s", exc)  # the one line an operator needs
        await nc.close()
        raise
    engine = create_engine(settings.database_url)
    try:
        yield Runtime(service, settings, nc, js, engine, session_factory(engine))
    finally:
        try:
            await nc.drain()
        except Exception:  # already closed: nothing left to drain
            log.debug("nats drain failed", exc_info=True)
        await engine.dispose()
