"""Routes: which backend each charger talks to. The whole table, and the default route."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from sy_bus import streams
from sy_platform import RuntimeDep
from sy_routing import table
from sy_routing.api.backends import not_registered
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.models import Backend, ChargerRoute, DefaultRoute
from sy_routing.vocabulary import BackendName

log = logging.getLogger(__name__)

router = APIRouter(prefix="/routes", tags=["routes"])


class RouteIn(BaseModel):
    primary: BackendName = Field(description="Name of the registered backend to route to.")
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)


class BackendRefOut(BaseModel):
    name: str = Field(description="The backend's name.")
    url: str = Field(description="WebSocket base URL the connectors dial, '<url>/<chargerId>'.")
    ocpp_versions: list[str] = Field(description="OCPP versions the backend speaks.")


class RouteOut(BaseModel):
    charger_id: str | None = Field(
        description="The charger this route is for; null for the default route itself."
    )
    source: Literal["charger", "default"] = Field(
        description="'charger' when the charger has a route of its own, 'default' when it"
        " follows the default route (as every charger without its own does)."
    )
    primary: BackendRefOut = Field(description="The backend the charger's traffic goes to.")
    kv_key: str = Field(description="The sy-routes KV key the data plane reads this route from.")
    updated_at: datetime = Field(description="When this route last changed (UTC).")


class RoutingTableOut(BaseModel):
    version: int = Field(description="Latest routing-table version; 0 before the first change.")
    default: RouteOut | None = Field(
        description="The default route, or null when none is set (chargers without their own"
        " route then have none)."
    )
    chargers: list[RouteOut] = Field(description="Every charger's own route, by charger id.")


def route_out(route: ChargerRoute | DefaultRoute, charger_id: str | None = None) -> RouteOut:
    """`route` as seen by `charger_id` (None: the default route itself)."""
    source: Literal["charger", "default"] = "default"
    kv_key = streams.DEFAULT_ROUTE_KEY
    if isinstance(route, ChargerRoute):
        charger_id, source, kv_key = (
            route.charger_id,
            "charger",
            streams.route_key(route.charger_id),
        )
    return RouteOut(
        charger_id=charger_id,
        source=source,
        primary=BackendRefOut.model_validate(route.primary, from_attributes=True),
        kv_key=kv_key,
        updated_at=route.updated_at,
    )


@router.get("", response_model=RoutingTableOut, summary="Show the whole routing table")
async def show_table(rt: RuntimeDep) -> RoutingTableOut:
    async with rt.sessions() as session, session.begin():  # one snapshot for all three reads
        version = await table.latest_version(session)
        default = await table.default_route(session)
        chargers = await table.charger_routes(session)
    return RoutingTableOut(
        version=version,
        default=route_out(default) if default else None,
        chargers=[route_out(route) for route in chargers],
    )


@router.get(
    "/default",
    response_model=RouteOut,
    summary="Show the default route",
    responses={404: {"description": "no default route is set"}},
)
async def get_default(rt: RuntimeDep) -> RouteOut:
    async with rt.sessions() as session:
        default = await table.default_route(session)
    if default is None:
        raise HTTPException(404, "no default route is set; set one with PUT /routes/default")
    return route_out(default)


@router.put(
    "/default",
    response_model=RouteOut,
    summary="Set the default route: the backend of every charger without a route of its own",
    responses={404: {"description": "the backend is not registered"}},
)
async def set_default(body: RouteIn, routing_table: RoutingTableDep) -> RouteOut:
    async with routing_table.change(body.reason) as change:
        backend = await change.session.get(Backend, body.primary)
        if backend is None:
            raise not_registered(body.primary)
        default = await table.default_route(change.session)
        before = default.primary_backend if default else None
        if default is None:
            default = DefaultRoute()
            change.session.add(default)
        default.primary = backend
        if before != body.primary:
            await change.session.flush()
            change.record(
                {"op": "default.set", "primary": body.primary, "before": before}, default=True
            )
    if change.version:
        log.info("default route -> %s at version %d", body.primary, change.version)
    return route_out(default)
