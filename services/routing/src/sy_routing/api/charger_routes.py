"""One charger's route. Charger ids arrive URL-encoded and may hold any character ('.', ' ',
'*', even '/'), hence the `:path` parameter; the KV key is encoded by `streams.route_key`."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from sy_platform import RuntimeDep
from sy_routing import table
from sy_routing.api.backends import not_registered
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.api.routes import RouteIn, RouteOut, route_out
from sy_routing.models import Backend, ChargerRoute
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
    summary="Show the route a charger follows: its own, or else the default",
    responses={404: {"description": "the charger has no route and no default is set"}},
)
async def get_charger_route(charger_id: ChargerPath, rt: RuntimeDep) -> RouteOut:
    async with rt.sessions() as session:
        route = await table.charger_route(session, charger_id)
        default = await table.default_route(session) if route is None else None
    if route is not None:
        return route_out(route)
    if default is not None:
        return route_out(default, charger_id)
    raise HTTPException(
        404,
        f"charger '{charger_id}' has no route of its own and no default route is set;"
        " set one with PUT /routes/chargers/<id> or PUT /routes/default",
    )


@router.put(
    "/{charger_id:path}",
    response_model=RouteOut,
    summary="Route a charger to a backend, overriding the default route",
    responses={404: {"description": "the backend is not registered"}},
)
async def set_charger_route(
    charger_id: ChargerPath, body: RouteIn, routing_table: RoutingTableDep
) -> RouteOut:
    async with routing_table.change(body.reason) as change:
        backend = await change.session.get(Backend, body.primary)
        if backend is None:
            raise not_registered(body.primary)
        route = await table.charger_route(change.session, charger_id)
        before = route.primary_backend if route else None
        if route is None:
            route = ChargerRoute(charger_id=charger_id)
            change.session.add(route)
        route.primary = backend
        if before != body.primary:
            await change.session.flush()
            change.record(
                {
                    "op": "charger.set",
                    "charger_id": charger_id,
                    "primary": body.primary,
                    "before": before,
                },
                chargers=[charger_id],
            )
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
    summary="Remove a charger's own route; it follows the default route from then on",
    responses={404: {"description": "the charger has no route of its own"}},
)
async def remove_charger_route(
    charger_id: ChargerPath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        route = await table.charger_route(change.session, charger_id)
        if route is None:
            raise HTTPException(404, f"charger '{charger_id}' has no route of its own")
        await change.session.delete(route)
        await change.session.flush()
        change.record(
            {"op": "charger.removed", "charger_id": charger_id, "before": route.primary_backend},
            chargers=[charger_id],
        )
    log.info(
        "own route removed at version %d; follows the default",
        change.version,
        extra={"charger_id": charger_id},
    )
    return Response(status_code=204)
