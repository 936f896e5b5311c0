"""Charging sessions (CDR-like) and connector status history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from sy_events.sessions import Session
from sy_journal.api.deps import ChargerFilter, PoolDep, Since, Until, check_window

router = APIRouter(tags=["sessions"])

MAX_LIMIT = 10_000


class StatusOut(BaseModel):
    ts: datetime = Field(description="When the gateway saw the status (capture time).")
    charger_id: str = Field(description="The charger.")
    evse_id: int = Field(description="EVSE (1.6: connectorId; 0 = the whole charger).")
    connector_id: int | None = Field(description="Connector on the EVSE (1.6: 1).")
    status: str = Field(description="available, occupied, reserved, unavailable, faulted, unknown.")
    detail: str | None = Field(description="Why occupied (1.6): preparing, charging, ...")
    error_code: str | None = Field(description="1.6 errorCode in snake case when not NoError.")
    info: str | None = Field(description="1.6 info.")
    vendor_error_code: str | None = Field(description="1.6 vendorErrorCode.")
    reported_at: datetime | None = Field(description="The charger's own timestamp.")
    event_id: str = Field(description="The connector_status_changed event it comes from.")


def _where(**filters: Any) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for sql, value in filters.values():
        if value is not None:
            args.append(value)
            clauses.append(sql.format(f"${len(args)}"))
    return " AND ".join(clauses) or "TRUE", args


@router.get(
    "/sessions",
    response_model=list[Session],
    summary="Charging sessions first seen in a time range, oldest first",
)
async def list_sessions(
    pool: PoolDep,
    charger_id: ChargerFilter = None,
    since: Since = None,
    until: Until = None,
    status: Annotated[
        Literal["active", "ended"] | None, Query(description="Only active or ended sessions.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 1000,
) -> list[Session]:
    check_window(since, until)
    where, args = _where(
        charger=("charger_id = {}", charger_id),
        since=("first_seen >= {}", since),
        until=("first_seen < {}", until),
        status=("status = {}", status),
    )
    args.append(limit)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT doc FROM journal.sessions WHERE {where} "
            f"ORDER BY first_seen, gateway_transaction_id LIMIT ${len(args)}",
            *args,
        )
    return [Session.model_validate_json(r["doc"]) for r in rows]


@router.get(
    "/sessions/{gateway_transaction_id}",
    response_model=Session,
    summary="One charging session by its gateway transaction id",
    responses={404: {"description": "no such session"}},
)
async def get_session(pool: PoolDep, gateway_transaction_id: str) -> Session:
    async with pool.acquire() as conn:
        doc = await conn.fetchval(
            "SELECT doc FROM journal.sessions WHERE gateway_transaction_id = $1",
            gateway_transaction_id,
        )
    if doc is None:
        raise HTTPException(status_code=404, detail=f"no session {gateway_transaction_id!r}")
    return Session.model_validate_json(doc)


@router.get(
    "/chargers/{charger_id:path}/status",
    response_model=list[StatusOut],
    summary="A charger's connector status history, oldest first",
)
async def status_history(
    pool: PoolDep,
    charger_id: str,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="At most this many.")] = 1000,
) -> list[StatusOut]:
    check_window(since, until)
    where, args = _where(
        charger=("charger_id = {}", charger_id),
        since=("ts >= {}", since),
        until=("ts < {}", until),
    )
    args.append(limit)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT * FROM journal.status_history WHERE {where} ORDER BY ts, event_id "
            f"LIMIT ${len(args)}",
            *args,
        )
    return [StatusOut(**dict(r)) for r in rows]
