"""Chargers connected to this edge replica."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from sy_edge.context import EdgeContext

router = APIRouter(prefix="/chargers", tags=["chargers"])


class ConnectedCharger(BaseModel):
    charger_id: str = Field(description="Charger identity from its connection URL.")
    ocpp: str = Field(description="Negotiated subprotocol: ocpp1.6 or ocpp2.0.1.")
    connection_id: str = Field(
        description="Id of this WebSocket connection (journal frames carry it)."
    )
    remote: str = Field(description="Charger's address as seen by the edge (ip:port).")
    connected_at: datetime = Field(description="When this connection opened (UTC).")


@router.get(
    "",
    response_model=list[ConnectedCharger],
    summary="Chargers connected to this edge replica right now",
)
async def connected(request: Request) -> list[ConnectedCharger]:
    ctx: EdgeContext = request.app.state.edge
    return [
        ConnectedCharger(
            charger_id=s.charger_id,
            ocpp=s.version.value,
            connection_id=s.connection_id,
            remote=s.remote,
            connected_at=datetime.fromtimestamp(s.connected_at, UTC),
        )
        for s in sorted(ctx.sessions.values(), key=lambda s: s.charger_id)
    ]
