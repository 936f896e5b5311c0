"""Routing-table versions: one per committed change, with who, why and what."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from sy_platform import RuntimeDep
from sy_routing.models import RoutingVersion

router = APIRouter(prefix="/versions", tags=["versions"])


class VersionOut(BaseModel):
    id: int = Field(description="The version number; the data plane sees it in each route value.")
    created_at: datetime = Field(description="When the change was committed (UTC).")
    author: str = Field(description="Who made the change.")
    reason: str = Field(description="Why, as given with the change.")
    change: dict[str, Any] = Field(
        description="What changed: 'op' names the operation; 'before' and 'after' hold values."
    )


@router.get(
    "", response_model=list[VersionOut], summary="List routing-table versions, newest first"
)
async def list_versions(
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many versions to return.")] = 50,
) -> list[VersionOut]:
    query = select(RoutingVersion).order_by(RoutingVersion.id.desc()).limit(limit)
    async with rt.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [VersionOut.model_validate(row, from_attributes=True) for row in rows]
