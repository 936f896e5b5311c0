"""Chargers connected to this edge replica, and the quirk rules applied to them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from sy_edge.context import EdgeContext

router = APIRouter(tags=["chargers"])


class ConnectedCharger(BaseModel):
    charger_id: str = Field(description="Charger identity from its connection URL.")
    ocpp: str = Field(description="Negotiated subprotocol: ocpp1.6 or ocpp2.0.1.")
    connection_id: str = Field(
        description="Id of this WebSocket connection (journal frames carry it)."
    )
    remote: str = Field(description="Charger's address as seen by the edge (ip:port).")
    connected_at: datetime = Field(description="When this connection opened (UTC).")
    security: str = Field(description="How the charger authenticated, e.g. 'password, profile 2'.")
    validation: str = Field(description="strict or lenient schema validation.")
    quirk_profiles: list[str] = Field(description="Quirk profiles applied to its frames.")


class ChargerQuirks(BaseModel):
    charger_id: str
    connected: bool = Field(description="Connected to this replica right now.")
    vendor: str | None = Field(description="From its BootNotification (remembered).")
    model: str | None
    firmware: str | None
    profiles: list[str] = Field(description="Quirk profiles in force (when connected).")
    rules_applied: dict[str, int] = Field(
        description="Frames each rule changed on this replica since it started."
    )


class QuirkProfileView(BaseModel):
    name: str
    description: str
    match: dict[str, str] | None
    include: list[str]
    rules: list[str]
    source: str


def _ctx(request: Request) -> EdgeContext:
    ctx: EdgeContext = request.app.state.edge
    return ctx


@router.get(
    "/chargers",
    response_model=list[ConnectedCharger],
    summary="Chargers connected to this edge replica right now",
)
async def connected(request: Request) -> list[ConnectedCharger]:
    ctx = _ctx(request)
    return [
        ConnectedCharger(
            charger_id=s.charger_id,
            ocpp=s.version.value,
            connection_id=s.connection_id,
            remote=s.remote,
            connected_at=datetime.fromtimestamp(s.connected_at, UTC),
            security=s.admitted.how,
            validation="strict" if s.strict else "lenient",
            quirk_profiles=list(s.quirks.profiles),
        )
        for s in sorted(ctx.sessions.values(), key=lambda s: s.charger_id)
    ]


@router.get(
    "/chargers/{charger_id}/quirks",
    response_model=ChargerQuirks,
    summary="Quirk profiles of a charger and how often each rule changed its frames",
)
async def charger_quirks(charger_id: str, request: Request) -> ChargerQuirks:
    ctx = _ctx(request)
    session = ctx.sessions.get(charger_id)
    counts = ctx.quirk_counts.get(charger_id)
    if session is None and counts is None:
        record = await ctx.access.record(charger_id)
        boot = record.boot
        if boot is None:
            raise HTTPException(404, f"nothing known about {charger_id} on this replica")
    else:
        boot = session.boot if session else (await ctx.access.record(charger_id)).boot
    return ChargerQuirks(
        charger_id=charger_id,
        connected=session is not None,
        vendor=boot.vendor if boot else None,
        model=boot.model if boot else None,
        firmware=boot.firmware if boot else None,
        profiles=list(session.quirks.profiles) if session else [],
        rules_applied=dict(counts or {}),
    )


@router.get(
    "/quirks/profiles",
    response_model=list[QuirkProfileView],
    summary="Every quirk profile this replica knows (shipped and the operator's own)",
)
async def quirk_profiles(request: Request) -> list[QuirkProfileView]:
    views = []
    for p in _ctx(request).quirks.profiles:
        match = None
        if p.match is not None:
            match = {
                k: getattr(p.match, k).text
                for k in ("vendor", "model", "firmware")
                if getattr(p.match, k) is not None
            }
        views.append(
            QuirkProfileView(
                name=p.name,
                description=p.description.strip(),
                match=match,
                include=list(p.include),
                rules=[r.id for r in p.rules],
                source=p.source,
            )
        )
    return views
