"""Backends: the CSMSs chargers can be routed to."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_platform import RuntimeDep
from sy_platform.auth import Role, require_role
from sy_routing import table
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.models import Backend
from sy_routing.vocabulary import BackendName, BackendUrl, OcppVersions

log = logging.getLogger(__name__)

ADMIN_ONLY = [Depends(require_role(Role.ADMIN))]

router = APIRouter(prefix="/backends", tags=["backends"])

NamePath = Annotated[str, Path(description="The backend's name.")]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]
URL_DESCRIPTION = (
    "WebSocket base URL (ws:// or wss://) of the backend's OCPP endpoint; connectors dial"
    " '<url>/<chargerId>'. A trailing '/' is removed."
)
VERSIONS_DESCRIPTION = "OCPP versions the backend speaks, as subprotocol names: ocpp1.6, ocpp2.0.1."


class BackendIn(BaseModel):
    name: BackendName = Field(
        description="Unique name: 1-64 lowercase letters, digits, '-' or '_', starting with a"
        " letter or digit. Routes refer to the backend by it."
    )
    url: BackendUrl = Field(description=URL_DESCRIPTION)
    ocpp_versions: OcppVersions = Field(description=VERSIONS_DESCRIPTION)
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)


class BackendUpdate(BaseModel):
    url: BackendUrl = Field(description=URL_DESCRIPTION)
    ocpp_versions: OcppVersions = Field(description=VERSIONS_DESCRIPTION)
    reason: str = Field("", max_length=2000, description=REASON_DESCRIPTION)


class BackendOut(BaseModel):
    name: str = Field(description="The backend's unique name.")
    url: str = Field(description="WebSocket base URL the connectors dial, '<url>/<chargerId>'.")
    ocpp_versions: list[str] = Field(description=VERSIONS_DESCRIPTION)
    created_at: datetime = Field(description="When the backend was registered (UTC).")
    updated_at: datetime = Field(description="When the backend last changed (UTC).")


def _out(backend: Backend) -> BackendOut:
    return BackendOut.model_validate(backend, from_attributes=True)


def _definition(backend: Backend) -> dict[str, Any]:
    return {"url": backend.url, "ocpp_versions": list(backend.ocpp_versions)}


def not_registered(name: str) -> HTTPException:
    return HTTPException(404, f"backend '{name}' is not registered; add it with POST /backends")


@router.post(
    "",
    dependencies=ADMIN_ONLY,
    status_code=201,
    response_model=BackendOut,
    summary="Register a backend",
    responses={409: {"description": "a backend with this name exists"}},
)
async def add_backend(body: BackendIn, routing_table: RoutingTableDep) -> BackendOut:
    async with routing_table.change(body.reason) as change:
        if await change.session.get(Backend, body.name) is not None:
            raise HTTPException(
                409,
                f"backend '{body.name}' already exists; change it with PUT /backends/{body.name}",
            )
        backend = Backend(name=body.name, url=body.url, ocpp_versions=body.ocpp_versions)
        change.session.add(backend)
        await change.session.flush()
        change.record({"op": "backend.added", "backend": body.name, "after": _definition(backend)})
    log.info("backend %s added at version %d", body.name, change.version)
    return _out(backend)


@router.get("", response_model=list[BackendOut], summary="List backends")
async def list_backends(rt: RuntimeDep) -> list[BackendOut]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Backend).order_by(Backend.name))).all()
    return [_out(row) for row in rows]


@router.get(
    "/{name}",
    response_model=BackendOut,
    summary="Show one backend",
    responses={404: {"description": "no backend has this name"}},
)
async def get_backend(name: NamePath, rt: RuntimeDep) -> BackendOut:
    async with rt.sessions() as session:
        backend = await session.get(Backend, name)
    if backend is None:
        raise not_registered(name)
    return _out(backend)


@router.put(
    "/{name}",
    dependencies=ADMIN_ONLY,
    response_model=BackendOut,
    summary="Change a backend's URL or OCPP versions; every route using it is republished",
    responses={404: {"description": "no backend has this name"}},
)
async def update_backend(
    name: NamePath, body: BackendUpdate, routing_table: RoutingTableDep
) -> BackendOut:
    async with routing_table.change(body.reason) as change:
        backend = await change.session.get(Backend, name)
        if backend is None:
            raise not_registered(name)
        before = _definition(backend)
        backend.url, backend.ocpp_versions = body.url, body.ocpp_versions
        if _definition(backend) != before:
            await change.session.flush()
            default = await table.default_route(change.session)
            after = _definition(backend)
            change.record(
                {"op": "backend.updated", "backend": name, "before": before, "after": after},
                chargers=await table.chargers_using(change.session, name),
                default=default is not None and default.primary_backend == name,
            )
    if change.version:
        log.info(
            "backend %s changed at version %d; republished %d charger routes%s",
            name,
            change.version,
            len(change.chargers),
            " and the default route" if change.default else "",
        )
    return _out(backend)


@router.delete(
    "/{name}",
    dependencies=ADMIN_ONLY,
    status_code=204,
    response_class=Response,
    summary="Remove a backend no route uses",
    responses={
        404: {"description": "no backend has this name"},
        409: {"description": "a route still uses the backend"},
    },
)
async def remove_backend(
    name: NamePath, routing_table: RoutingTableDep, reason: ReasonQuery = ""
) -> Response:
    async with routing_table.change(reason) as change:
        backend = await change.session.get(Backend, name)
        if backend is None:
            raise not_registered(name)
        users = await _users(change.session, name)
        if users:
            raise HTTPException(
                409, f"backend '{name}' is still the primary of {users}; move them first"
            )
        await change.session.delete(backend)
        change.record({"op": "backend.removed", "backend": name, "before": _definition(backend)})
    log.info("backend %s removed at version %d", name, change.version)
    return Response(status_code=204)


async def _users(session: AsyncSession, name: str) -> str:
    """Which routes use backend `name`, in words; empty when none does."""
    default = await table.default_route(session)
    chargers = await table.chargers_using(session, name)
    parts = []
    if default is not None and default.primary_backend == name:
        parts.append("the default route (PUT /routes/default)")
    if chargers:
        shown = ", ".join(f"'{c}'" for c in chargers[:10])
        more = f" and {len(chargers) - 10} more" if len(chargers) > 10 else ""
        parts.append(f"the routes of chargers {shown}{more} (PUT /routes/chargers/<id>)")
    return " and ".join(parts)
