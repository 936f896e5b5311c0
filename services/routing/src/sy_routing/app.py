"""The routing service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sy_bus import streams
from sy_platform import Runtime, service_app
from sy_platform.app import ReadinessCheck
from sy_platform.auth.admin import router as tokens_router
from sy_routing.api import (
    backends,
    charger_routes,
    chargers,
    group_routes,
    groups,
    routes,
    versions,
)
from sy_routing.boots import BootLearner
from sy_routing.changes import RoutingTable
from sy_routing.lock import TableLock
from sy_routing.publisher import RoutePublisher
from sy_routing.settings import RoutingSettings

DESCRIPTION = """Which backends each charger talks to. Register backends, group chargers by their
attributes (learned from their boots, or set by operators), and route the default, groups and
single chargers to a primary and shadows; every change is a numbered routing-table version that
can be restored, and the effective route of each charger is published to the `sy-routes` NATS KV
bucket that the data plane watches."""


@asynccontextmanager
async def publishing(rt: Runtime, app: FastAPI) -> AsyncIterator[dict[str, ReadinessCheck]]:
    kv = await rt.js.key_value(streams.ROUTES.name)
    lock = TableLock(rt.engine)
    publisher = RoutePublisher(rt, lock, kv)
    routing_table = RoutingTable(rt.sessions, lock, publisher)
    app.state.routing_table = routing_table
    learner = BootLearner(rt, routing_table)
    # In the background: the API serves (and /readyz explains) while NATS or the database lag.
    publisher.request_sync()
    learner.start()
    try:
        yield {"routes-published": publisher.check}
    finally:
        await learner.stop()
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
            group_routes.router,
            charger_routes.router,
            groups.router,
            chargers.router,
            versions.router,
            tokens_router,
        ],
        parts=publishing,
    )
