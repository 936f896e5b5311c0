"""The journal service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_journal.api import frames
from sy_journal.ingest import FrameIngest
from sy_journal.settings import JournalSettings
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck

DESCRIPTION = """The system of record the operator owns: every frame the gateway captured, on every
hop, stored in Postgres from the SY_FRAMES stream. This version serves a charger's frames in order;
trace search and exports come next."""


def build_app(settings: JournalSettings) -> FastAPI:
    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        ingest = FrameIngest(rt, settings)
        await ingest.start()
        app.state.ingest = ingest
        try:
            yield {"ingest": ingest.check}
        finally:
            await ingest.stop()

    return service_app(
        service="journal",
        settings=settings,
        title="Switchyard journal",
        description=DESCRIPTION,
        routers=[frames.router],
        parts=parts,
    )
