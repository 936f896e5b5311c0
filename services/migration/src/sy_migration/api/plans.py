"""Migration plans (read-only until the waves issue lands)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from sy_migration.models import Plan
from sy_platform import RuntimeDep

router = APIRouter(prefix="/plans", tags=["plans"])


class PlanOut(BaseModel):
    id: uuid.UUID = Field(description="Plan id.")
    name: str = Field(description="Operator's name for the plan.")
    note: str = Field(description="Free text: scope, communications, owners.")
    created_at: datetime = Field(description="When the plan was created (UTC).")


@router.get("", response_model=list[PlanOut], summary="List migration plans")
async def list_plans(rt: RuntimeDep) -> list[PlanOut]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(Plan).order_by(Plan.created_at))).all()
    return [PlanOut.model_validate(row, from_attributes=True) for row in rows]
