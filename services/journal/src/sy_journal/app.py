"""The journal service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_journal.api import (
    admin,
    exports,
    frames,
    health,
    reconciliation,
    replays,
    sessions,
    traces,
)
from sy_journal.db import create_pool
from sy_journal.ingest import FrameIngest
from sy_journal.maintenance import Maintenance
from sy_journal.outbox import OutboxPublisher
from sy_journal.partitions import Partitions
from sy_journal.settings import JournalSettings
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck

DESCRIPTION = """The system of record the operator owns: every frame the gateway captured, on every
hop, and the canonical events, charging sessions and connector status history derived from them.
Trace search, exports (NDJSON, CSV, Parquet), reconciliation between backends, event replay and
health metrics per charger group."""


def build_app(settings: JournalSettings) -> FastAPI:
    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        pool = await create_pool(settings.database_url)
        partitions = Partitions()
        outbox = OutboxPublisher(pool, rt.nc)
        ingest = FrameIngest(rt, settings, pool, partitions, outbox)
        maintenance = Maintenance(pool, partitions, settings)
        app.state.pool = pool
        app.state.ingest = ingest
        app.state.maintenance = maintenance
        try:
            await ingest.start()
            outbox.start()
            maintenance.start()
            yield {"ingest": ingest.check}
        finally:
            await ingest.stop()
            await outbox.stop()
            await maintenance.stop()
            await pool.close()

    return service_app(
        service="journal",
        settings=settings,
        title="Switchyard journal",
        description=DESCRIPTION,
        routers=[
            frames.router,
            traces.router,
            sessions.router,
            exports.router,
            reconciliation.router,
            health.router,
            replays.router,
            admin.router,
        ],
        parts=parts,
    )
