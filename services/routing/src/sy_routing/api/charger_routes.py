"""One charger's route. Charger ids arrive URL-encoded and may hold any character ('.', ' ',
'*', even '/'), hence the `:path` parameter; the KV key is encoded by `streams.route_key`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from sy_platform import RuntimeDep
from sy_routing import snapshots, table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.api.route_models import RouteIn, RouteOut, route_out, write_route
from sy_routing.models import Route
from sy_routing.vocabulary import ChargerId

log = logging.getLogger(__name__)

router = APIRouter(prefix="/routes/chargers", tags=["routes"])

ChargerPath = Annotated[
    ChargerId,
    Path(description="The charger's OCPP identity (URL-encode characters such as ' ' or '/')."),
]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]


@router.get(
    "/{charger_id:path}",
    response_model=RouteOut,
    summary="Show the route a charger follows: its own, else its first routed group's, else the"
    " default",
    responses={404: {"description": "no route applies to the charger"}},
)
async def get_charger_route(charger_id: ChargerPath, rt: RuntimeDep) -> RouteOut:
    async with rt.sessions() as session, session.begin():
        found = await table.resolve(session, charger_id)
        if found.source == "charger":
            route = await table.charger_route(session, charger_id)
        elif found.source == "group" and found.group is not None:
            route = await table.group_route(session, found.group)
        else:
            route = await table.default_route(session)
    if route is None:
        raise HTTPException(
            404,
            f"charger '{charger_id}' has no route of its own, is in no routed group and no"
            " default route is set; set one with PUT /routes/chargers/<id> or PUT /routes/default",
        )
    return route_out(route, charger_id)


@router.put(
    "/{charger_id:path}",
    response_model=RouteOut,
    summary="Route a charger to a primary (and shadows), overriding group routes and the default",
    responses={404: {"description": "a backend is not registered"}},
)
async def set_charger_route(
    charger_id: ChargerPath, body: RouteIn, routing_table: RoutingTableDep
) -> RouteOut:
    async with routing_table.change(body.reason) as change:
        route = await table.charger_route(change.session, charger_id)
        before = snapshots.route_doc(route) if route else None
        if route is None:
            route = Route(scope="charger", charger_id=charger_id, shadows=[])
            change.session.add(route)
        await write_route(change.session, route, body)
        after = snapshots.route_doc(route)
        if before != after:
            detail = {
                "op": "charger.set",
                "charger_id": charger_id,
                "before": before,
                "after": after,
            }
            change.record(detail, chargers=[charger_id])
    if change.version:
        log.info(
            "route -> %s at version %d",
            body.primary,
            change.version,
            extra={"charger_id": charger_id},
        )
    return route_out(route)


@router.delete(
    "/{charger_id:path}",
    status_code=204,
    response_class=Response,
    summary="Remove a charger's own route; it follows its groups' or the default route"
    " from then on",
    responses={404: {"description": "the charger has no route of its own"}},
)
async def remove_charger_route(
    charger_id: ChargerPath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        route = await table.charger_route(change.session, charger_id)
        if route is None:
            raise HTTPException(404, f"charger '{charger_id}' has no route of its own")
        before = snapshots.route_doc(route)
        await change.session.delete(route)
        change.record(
            {"op": "charger.removed", "charger_id": charger_id, "before": before},
            chargers=[charger_id],
        )
    log.info(
        "own route removed at version %d",
        change.version,
        extra={"charger_id": charger_id},
    )
    return Response(status_code=204)
