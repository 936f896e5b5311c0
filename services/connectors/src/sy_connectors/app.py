"""The connectors' app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_bus import FramePublisher, streams
from sy_connectors.api import links, outbox, shards
from sy_connectors.link import LinkContext
from sy_connectors.relay import Relay
from sy_connectors.sessions import SessionLog
from sy_connectors.settings import ConnectorSettings
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck

DESCRIPTION = """Holds one upstream WebSocket per charger and backend on its route (same OCPP
version, `<backend url>/<chargerId>`), relays charger CALLs up and backend CALLs down, redials with
backoff, and captures every upstream frame to JetStream. Chargers are shared among replicas by
shard (`/shards`); each replica serves only the chargers of the shards it leases."""


def build_app(settings: ConnectorSettings) -> FastAPI:
    @asynccontextmanager
    async def parts(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
        frames = FramePublisher(rt.js, settings.instance_id)
        frames.start()
        sessions = SessionLog(rt.engine, settings.instance_id)
        sessions.start()
        memory_kv = (
            await rt.js.key_value(streams.STATE.name),
            await rt.js.key_value(streams.TRANSACTIONS.name),
        )
        relay = Relay(
            LinkContext(settings, rt.nc, rt.js, frames, sessions, memory_kv),
            await rt.js.key_value(streams.ROUTES.name),
            await rt.js.key_value(streams.PRESENCE.name),
            await rt.js.key_value(streams.SHARDS.name),
        )
        await relay.start()
        app.state.relay = relay

        async def routes_loaded() -> None:
            if not relay.routes.loaded:
                raise RuntimeError("routing table not loaded yet")

        try:
            yield {"routes": routes_loaded}
        finally:
            await relay.stop()
            await frames.stop()
            await sessions.stop()

    return service_app(
        service="connectors",
        settings=settings,
        title="Switchyard connectors",
        description=DESCRIPTION,
        routers=[links.router, outbox.router, shards.router],
        parts=parts,
    )
