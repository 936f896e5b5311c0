"""Migration plans: a pilot and ordered waves toward one or more target backends."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from sy_migration import store
from sy_migration.models import Plan, Wave
from sy_migration.spec import WaveSpec
from sy_platform import RuntimeDep
from sy_platform.audit import note

router = APIRouter(prefix="/plans", tags=["plans"])


class PlanIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=200, description="The plan's name, e.g. legacy-to-new."
    )
    note: str = Field("", max_length=2000, description="Scope, communications, owners.")


class PlanOut(BaseModel):
    id: uuid.UUID = Field(description="Plan id.")
    name: str = Field(description="Operator's name for the plan.")
    note: str = Field(description="Free text: scope, communications, owners.")
    created_at: datetime = Field(description="When the plan was created (UTC).")
    waves: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Its waves, pilot first then by order: name, order, pilot, phase, progress, "
        "health, target backend.",
    )


def _summary(wave: Wave) -> dict[str, Any]:
    spec = WaveSpec.model_validate(wave.spec)
    described = store.describe(wave, None)["status"]
    return {
        "name": wave.name,
        "order": spec.order,
        "pilot": spec.pilot,
        "phase": wave.phase,
        "progress": described["progress"],
        "health": described["health"],
        "target": spec.target_backend,
        "signOffOwner": spec.sign_off_owner,
        "signedOffBy": wave.signed_off_by,
    }


async def _out(rt: Any, plan: Plan) -> PlanOut:
    async with rt.sessions() as session:
        waves = (await session.scalars(select(Wave).where(Wave.plan_id == plan.id))).all()
    summaries = sorted(
        (_summary(w) for w in waves), key=lambda s: (not s["pilot"], s["order"], s["name"])
    )
    return PlanOut(
        id=plan.id, name=plan.name, note=plan.note, created_at=plan.created_at, waves=summaries
    )


@router.get("", response_model=list[PlanOut], summary="List migration plans with their waves")
async def list_plans(rt: RuntimeDep) -> list[PlanOut]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Plan).order_by(Plan.created_at))).all()
    return [await _out(rt, row) for row in rows]


@router.post("", response_model=PlanOut, status_code=201, summary="Create a plan")
async def create_plan(body: PlanIn, rt: RuntimeDep, request: Request) -> PlanOut:
    async with rt.sessions() as session, session.begin():
        if await store.plan_named(session, body.name, create=False) is not None:
            raise HTTPException(409, f"plan '{body.name}' exists")
        plan = Plan(name=body.name, note=body.note)
        session.add(plan)
        await session.flush()
        await session.refresh(plan)
    note(request, f"plan/{body.name}", action="create", after=body.model_dump())
    return await _out(rt, plan)


@router.get("/{name}", response_model=PlanOut, summary="One plan and its waves")
async def get_plan(
    name: Annotated[str, Path(description="The plan's name.")], rt: RuntimeDep
) -> PlanOut:
    async with rt.sessions() as session:
        plan = await store.plan_named(session, name, create=False)
    if plan is None:
        raise HTTPException(404, f"no plan named '{name}'")
    return await _out(rt, plan)
