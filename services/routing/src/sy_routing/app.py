"""The routing service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_bus import streams
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck
from sy_platform.auth.admin import router as tokens_router
from sy_routing.api import backends, charger_routes, routes, versions
from sy_routing.changes import RoutingTable
from sy_routing.lock import TableLock
from sy_routing.publisher import RoutePublisher
from sy_routing.settings import RoutingSettings

DESCRIPTION = """Which backend each charger talks to. Register backends, set the default route and
per-charger routes; every change is a numbered routing-table version, and the effective route of
each charger is published to the `sy-routes` NATS KV bucket that the data plane watches."""


@asynccontextmanager
async def publishing(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
    kv = await rt.js.key_value(streams.ROUTES.name)
    lock = TableLock(rt.engine)
    publisher = RoutePublisher(rt, lock, kv)
    app.state.routing_table = RoutingTable(rt.sessions, lock, publisher)
    # In the background: the API serves (and /readyz explains) while NATS or the database lag.
    publisher.request_sync()
    try:
        yield {"routes-published": publisher.check}
    finally:
        await publisher.stop()


def build_app(settings: RoutingSettings) -> FastAPI:
    return service_app(
        service="routing",
        settings=settings,
        title="Switchyard routing",
        description=DESCRIPTION,
        routers=[
            backends.router,
            routes.router,
            charger_routes.router,
            versions.router,
            tokens_router,
        ],
        parts=publishing,
    )
