"""The edge's app factory: REST/probes on SY_HTTP_PORT, chargers on SY_OCPP_PORT."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_bus import FramePublisher, streams
from sy_edge.api import chargers
from sy_edge.context import EdgeContext
from sy_edge.recorder import ConnectionRecorder
from sy_edge.server import charger_endpoint
from sy_edge.settings import EdgeSettings
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck

DESCRIPTION = """Terminates charger WebSockets (OCPP 1.6J and 2.0.1), validates every frame, relays
charger CALLs to the bus and backend CALLs to the charger, and captures every frame to JetStream.
Chargers connect to `ws://HOST:SY_OCPP_PORT/ocpp/<chargerId>`."""


def build_app(settings: EdgeSettings) -> FastAPI:
    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        frames = FramePublisher(rt.js, settings.instance_id)
        frames.start()
        recorder = ConnectionRecorder(rt.engine)
        recorder.start()
        presence = await rt.js.key_value(streams.PRESENCE.name)
        ctx = EdgeContext(settings, rt.nc, frames, presence, recorder)
        app.state.edge = ctx
        try:
            async with charger_endpoint(ctx):
                yield {}
        finally:
            await frames.stop()
            await recorder.stop()

    return service_app(
        service="edge",
        settings=settings,
        title="Switchyard edge",
        description=DESCRIPTION,
        routers=[chargers.router],
        parts=parts,
    )
