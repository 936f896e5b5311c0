"""Backends: the CSMSs chargers can be routed to."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_platform import RuntimeDep
from sy_platform.auth import Role, require_role
from sy_routing import snapshots, table
from sy_routing.api.backend_models import (
    BackendIn,
    BackendOut,
    BackendUpdate,
    backend_out,
    write_backend,
)
from sy_routing.api.deps import REASON_DESCRIPTION, RoutingTableDep
from sy_routing.models import Backend

log = logging.getLogger(__name__)

ADMIN_ONLY = [Depends(require_role(Role.ADMIN))]

router = APIRouter(prefix="/backends", tags=["backends"])

NamePath = Annotated[str, Path(description="The backend's name.")]
ReasonQuery = Annotated[str, Query(max_length=2000, description=REASON_DESCRIPTION)]


def _definition(backend: Backend) -> dict[str, Any]:
    return snapshots.backend_doc(backend)


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
        backend = Backend(name=body.name)
        write_backend(backend, body)
        change.session.add(backend)
        await change.session.flush()
        change.record({"op": "backend.added", "backend": body.name, "after": _definition(backend)})
    log.info("backend %s added at version %d", body.name, change.version)
    return backend_out(backend)


@router.get("", response_model=list[BackendOut], summary="List backends")
async def list_backends(rt: RuntimeDep) -> list[BackendOut]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Backend).order_by(Backend.name))).all()
    return [backend_out(row) for row in rows]


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
    return backend_out(backend)


@router.put(
    "/{name}",
    dependencies=ADMIN_ONLY,
    response_model=BackendOut,
    summary="Replace a backend's definition; every route using it is republished",
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
        write_backend(backend, body)
        after = _definition(backend)
        if after != before:
            change.record(
                {"op": "backend.updated", "backend": name, "before": before, "after": after},
                everything=True,  # only keys whose route uses it differ, and only they are written
            )
    if change.version:
        log.info(
            "backend %s changed at version %d; republished %d charger routes",
            name,
            change.version,
            len(change.moved),
        )
    return backend_out(backend)


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
            raise HTTPException(409, f"backend '{name}' is still used by {users}; move them first")
        await change.session.delete(backend)
        change.record({"op": "backend.removed", "backend": name, "before": _definition(backend)})
    log.info("backend %s removed at version %d", name, change.version)
    return Response(status_code=204)


async def _users(session: AsyncSession, name: str) -> str:
    """Which routes use backend `name` (as primary or shadow), in words; empty when none does."""
    routes = await table.routes_using(session, name)
    parts = []
    if any(r.scope == "default" for r in routes):
        parts.append("the default route (PUT /routes/default)")
    groups = [r.group_name for r in routes if r.scope == "group"]
    if groups:
        parts.append(f"the routes of groups {_some(groups)} (PUT /routes/groups/<name>)")
    chargers = [r.charger_id for r in routes if r.scope == "charger"]
    if chargers:
        parts.append(f"the routes of chargers {_some(chargers)} (PUT /routes/chargers/<id>)")
    return " and ".join(parts)


def _some(names: list[str | None]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")
