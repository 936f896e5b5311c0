"""The estate map: what the fleet is made of, where it is routed, and who misbehaves."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from sy_migration import estate
from sy_migration.api.deps import ServicesDep
from sy_migration.clients import Unavailable
from sy_migration.spec import duration

router = APIRouter(prefix="/estate", tags=["estate"])


@router.get(
    "",
    summary="The fleet by vendor, model, firmware, site, criticality and backend, "
    "with the chargers that behave inconsistently",
)
async def estate_map(
    services: ServicesDep,
    window: Annotated[
        str, Query(description="How far back behaviour is judged, e.g. 24h.")
    ] = "168h",
) -> dict[str, Any]:
    try:
        span: timedelta = duration(window)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    try:
        return await estate.gather(services, span)
    except Unavailable as exc:
        raise HTTPException(502, str(exc)) from None
