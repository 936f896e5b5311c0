"""A charger's captured frames, in the order they happened."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select

from sy_bus import FrameDirection
from sy_journal.models import Frame
from sy_journal.store import ns_from_ts
from sy_platform import RuntimeDep

router = APIRouter(prefix="/chargers", tags=["frames"])

MAX_LIMIT = 10_000


def _ns(ts: datetime) -> int:
    # Clamped to bigint: a far-off bound like year 9999 means "no bound", not a database error.
    return max(-(2**63), min(ns_from_ts(ts), 2**63 - 1))


class FrameOut(BaseModel):
    seq: int = Field(description="SY_FRAMES stream sequence: unique, and the tie-break on ts_ns.")
    ts: datetime = Field(description="When the frame was captured (UTC, microseconds).")
    ts_ns: int = Field(description="When the frame was captured, nanoseconds since the epoch.")
    direction: FrameDirection = Field(description="Which hop the frame crossed.")
    ocpp: str = Field(description="OCPP version of the connection, e.g. 'ocpp1.6'.")
    message_type: int | None = Field(
        description="OCPP-J message type (2 CALL, 3 CALLRESULT, 4 CALLERROR); null if unparsed."
    )
    message_id: str | None = Field(description="OCPP-J message id, if the frame had one.")
    action: str | None = Field(description="OCPP action, e.g. 'BootNotification', if known.")
    backend: str | None = Field(description="The backend on this hop, for backend-side hops.")
    instance: str = Field(description="The gateway replica that captured the frame.")
    raw: str = Field(description="The exact OCPP-J frame text.")


@router.get(
    "/{charger_id:path}/frames",
    response_model=list[FrameOut],
    summary="A charger's frames in capture order",
)
async def list_frames(
    rt: RuntimeDep,
    # `:path` because a URL-encoded '/' in a charger id arrives decoded.
    charger_id: str,
    since: Annotated[
        AwareDatetime | None,
        Query(description="Only frames captured at or after this instant (ISO 8601 with zone)."),
    ] = None,
    until: Annotated[
        AwareDatetime | None,
        Query(description="Only frames captured before this instant (ISO 8601 with zone)."),
    ] = None,
    direction: Annotated[
        FrameDirection | None, Query(description="Only frames on this hop.")
    ] = None,
    action: Annotated[str | None, Query(description="Only frames of this OCPP action.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many frames, oldest first.")
    ] = 1000,
) -> list[FrameOut]:
    if since is not None and until is not None and since >= until:
        raise HTTPException(status_code=422, detail="'since' must be before 'until'")
    query = select(Frame).where(Frame.charger_id == charger_id)
    if since is not None:
        query = query.where(Frame.ts_ns >= _ns(since))
    if until is not None:
        query = query.where(Frame.ts_ns < _ns(until))
    if direction is not None:
        query = query.where(Frame.direction == direction.value)
    if action is not None:
        query = query.where(Frame.action == action)
    query = query.order_by(Frame.ts_ns, Frame.stream_seq).limit(limit)
    async with rt.sessions() as session:
        rows = (await session.scalars(query)).all()
    return [
        FrameOut(
            seq=row.stream_seq,
            ts=row.ts,
            ts_ns=row.ts_ns,
            direction=FrameDirection(row.direction),
            ocpp=row.ocpp,
            message_type=row.message_type,
            message_id=row.message_id,
            action=row.action,
            backend=row.backend,
            instance=row.instance,
            raw=row.raw,
        )
        for row in rows
    ]
