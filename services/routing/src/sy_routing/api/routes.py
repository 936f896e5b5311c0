"""Routes: which backend each charger talks to. The whole table, and the default route."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from sy_platform import RuntimeDep
from sy_routing import snapshots, table
from sy_routing.api.deps import RoutingTableDep
from sy_routing.api.route_models import RouteIn, RouteOut, route_out, write_route
from sy_routing.models import Route

log = logging.getLogger(__name__)

router = APIRouter(prefix="/routes", tags=["routes"])


class RoutingTableOut(BaseModel):
    version: int = Field(description="Latest routing-table version; 0 before the first change.")
    default: RouteOut | None = Field(
        description="The default route, or null when none is set (chargers without their own"
        " or a group's route then have none)."
    )
    groups: list[RouteOut] = Field(
        default_factory=list, description="Group routes in priority order (the first match wins)."
    )
    chargers: list[RouteOut] = Field(description="Every charger's own route, by charger id.")


@router.get("", response_model=RoutingTableOut, summary="Show the whole routing table")
async def show_table(rt: RuntimeDep) -> RoutingTableOut:
    async with rt.sessions() as session, session.begin():  # one snapshot for every read
        version = await table.latest_version(session)
        default = await table.default_route(session)
        groups = await table.group_routes(session)
        chargers = await table.charger_routes(session)
    return RoutingTableOut(
        version=version,
        default=route_out(default) if default else None,
        groups=[route_out(route) for route in groups],
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
    summary="Set the default route: the backends of every charger without a route of its own"
    " or of a group",
    responses={404: {"description": "a backend is not registered"}},
)
async def set_default(body: RouteIn, routing_table: RoutingTableDep) -> RouteOut:
    async with routing_table.change(body.reason) as change:
        default = await table.default_route(change.session)
        before = snapshots.route_doc(default) if default else None
        if default is None:
            default = Route(scope="default", shadows=[])
            change.session.add(default)
        await write_route(change.session, default, body)
        after = snapshots.route_doc(default)
        if before != after:
            change.record({"op": "default.set", "before": before, "after": after}, default=True)
    if change.version:
        log.info("default route -> %s at version %d", body.primary, change.version)
    return route_out(default)
