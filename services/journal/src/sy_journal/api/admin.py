"""Operator actions on the journal itself."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sy_journal.maintenance import MaintenanceReport

router = APIRouter(prefix="/maintenance", tags=["maintenance"])


@router.post(
    "/retention",
    response_model=MaintenanceReport,
    summary="Create partitions ahead and drop those past retention now (also runs hourly)",
)
async def run_retention(request: Request) -> MaintenanceReport:
    report: MaintenanceReport = await request.app.state.maintenance.run_once()
    return report
