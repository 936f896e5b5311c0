"""Charger policies per id or id pattern: unauthenticated access, validation, quirk profiles.
Admin-only routes. Changes reach every edge replica through `sy.ctl.edge.policies`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from sy_edge.control import POLICIES, Control
from sy_edge.models import Policy
from sy_platform.app import RuntimeDep
from sy_platform.auth import Role, require_role

router = APIRouter(
    prefix="/policies",
    tags=["policies"],
    dependencies=[Depends(require_role(Role.ADMIN))],
)
Selector = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        description="A charger id, or a glob over ids such as CP-ACME-* (exact ids win, then "
        "longer patterns).",
    ),
]


class PolicyBody(BaseModel):
    allow_unauthenticated: bool | None = Field(
        None, description="Whether chargers with no credentials may connect (null: inherit)."
    )
    validation: Literal["strict", "lenient"] | None = Field(
        None, description="strict: CALLERROR on schema violations; lenient: log and forward."
    )
    quirk_profiles: list[str] | None = Field(
        None, description="Quirk profiles applied besides those matched by BootNotification."
    )


class PolicyView(PolicyBody):
    selector: str
    updated_at: datetime


def _view(row: Policy) -> PolicyView:
    profiles = None
    if row.quirk_profiles is not None:
        profiles = [p for p in row.quirk_profiles.split(",") if p]
    return PolicyView(
        selector=row.selector,
        allow_unauthenticated=row.allow_unauthenticated,
        validation=row.validation,
        quirk_profiles=profiles,
        updated_at=row.updated_at,
    )


async def _announce(request: Request) -> None:
    rt = request.app.state.runtime
    await rt.nc.publish(POLICIES, Control("policies", ts_ns=time.time_ns()).to_bytes())
    await request.app.state.edge.access.reload_policies()


@router.put("/{selector}", response_model=PolicyView, summary="Set the policy of ids or a pattern")
async def put(selector: Selector, body: PolicyBody, rt: RuntimeDep, request: Request) -> PolicyView:
    known = request.app.state.edge.quirks
    unknown = [p for p in body.quirk_profiles or [] if p not in known]
    if unknown:
        raise HTTPException(422, f"unknown quirk profiles: {', '.join(unknown)}")
    values = {
        "allow_unauthenticated": body.allow_unauthenticated,
        "validation": body.validation,
        "quirk_profiles": None if body.quirk_profiles is None else ",".join(body.quirk_profiles),
        "updated_at": datetime.now(UTC),
    }
    async with rt.sessions() as db, db.begin():
        row = await db.get(Policy, selector)
        if row is None:
            row = Policy(selector=selector, **values)
            db.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
    await _announce(request)
    return _view(row)


@router.get("", response_model=list[PolicyView], summary="Every charger policy")
async def listing(rt: RuntimeDep) -> list[PolicyView]:
    async with rt.sessions() as db:
        rows = (await db.execute(select(Policy).order_by(Policy.selector))).scalars()
        return [_view(r) for r in rows]


@router.delete("/{selector}", status_code=204, summary="Remove a policy")
async def delete(selector: Selector, rt: RuntimeDep, request: Request) -> Response:
    async with rt.sessions() as db, db.begin():
        row = await db.get(Policy, selector)
        if row is None:
            raise HTTPException(404, f"no policy for {selector}")
        await db.delete(row)
    await _announce(request)
    return Response(status_code=204)
