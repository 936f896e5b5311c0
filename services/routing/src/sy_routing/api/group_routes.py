"""A group's route: every member without a route of its own follows it (first group by priority)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy import func, select

from sy_platform import RuntimeDep
from sy_routing import snapshots, table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.api.groups import unknown_group
from sy_routing.api.route_models import GroupRouteIn, RouteOut, route_out, write_route
from sy_routing.models import Group, Route

log = logging.getLogger(__name__)

router = APIRouter(prefix="/routes/groups", tags=["routes"])

NamePath = Annotated[str, Path(description="The group's name.")]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]
PRIORITY_STEP = 10


@router.get("/{name}", response_model=RouteOut, summary="Show a group's route",
            responses={404: {"description": "the group has no route"}})  # fmt: skip
async def get_group_route(name: NamePath, rt: RuntimeDep) -> RouteOut:
    async with rt.sessions() as session:
        route = await table.group_route(session, name)
    if route is None:
        raise HTTPException(
            404, f"group '{name}' has no route; set one with PUT /routes/groups/{name}"
        )
    return route_out(route)


@router.put(
    "/{name}",
    response_model=RouteOut,
    summary="Route a group's chargers to a primary (and shadows)",
    responses={
        404: {"description": "the group or a backend does not exist"},
        409: {"description": "another group route has this priority"},
    },
)
async def set_group_route(
    name: NamePath, body: GroupRouteIn, routing_table: RoutingTableDep
) -> RouteOut:
    async with routing_table.change(body.reason) as change:
        session = change.session
        if await session.get(Group, name) is None:
            raise unknown_group(name)
        route = await table.group_route(session, name)
        before = _doc(route)
        priority = body.priority or (route.priority if route else None)
        if priority is None:
            highest = await session.scalar(select(func.max(Route.priority)))
            priority = (highest or 0) + PRIORITY_STEP
        taken = await session.scalar(
            select(Route.group_name).where(Route.priority == priority, Route.group_name != name)
        )
        if taken is not None:
            raise HTTPException(
                409,
                f"priority {priority} is taken by group '{taken}'; pick another"
                " (lower comes first)",
            )
        if route is None:
            route = Route(scope="group", group_name=name, priority=priority, shadows=[])
            session.add(route)
        route.priority = priority
        await write_route(session, route, body)
        after = _doc(route)
        if after != before:
            change.record(
                {"op": "group-route.set", "group": name, "before": before, "after": after},
                everything=True,
            )
    if change.version:
        log.info("group %s -> %s at version %d; %d chargers moved", name, body.primary,
                 change.version, len(change.moved))  # fmt: skip
    return route_out(route)


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Remove a group's route; its members follow their next group or the default",
               responses={404: {"description": "the group has no route"}})  # fmt: skip
async def remove_group_route(
    name: NamePath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        route = await table.group_route(change.session, name)
        if route is None:
            raise HTTPException(404, f"group '{name}' has no route")
        before = _doc(route)
        await change.session.delete(route)
        change.record(
            {"op": "group-route.removed", "group": name, "before": before}, everything=True
        )
    log.info("route of group %s removed at version %d", name, change.version)
    return Response(status_code=204)


def _doc(route: Route | None) -> dict[str, object] | None:
    return {"priority": route.priority, **snapshots.route_doc(route)} if route else None
