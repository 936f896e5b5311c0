"""Chargers this connectors replica relays, and the state of each upstream."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from sy_connectors.relay import Relay
from sy_connectors.upstream import Upstream

router = APIRouter(prefix="/links", tags=["links"])


class UpstreamState(BaseModel):
    backend: str = Field(description="Name of the backend (as registered in routing).")
    role: str = Field(
        description="primary (answers the charger), shadow (gets copies, answers compared) or "
        "retired (a former primary kept until the transactions it started have ended)."
    )
    url: str = Field(description="URL dialled for this charger: <backend url>/<chargerId>.")
    open: bool = Field(description="Whether the WebSocket to the backend is open now.")
    connected_since: datetime | None = Field(description="When the current socket opened (UTC).")
    dials: int = Field(description="Connection attempts since the upstream started.")
    open_transactions: list[str] = Field(
        description="Charger-side ids of the open transactions this backend started."
    )


class Link(BaseModel):
    charger_id: str = Field(description="Charger identity.")
    ocpp: str = Field(description="OCPP version used on both sides: ocpp1.6 or ocpp2.0.1.")
    upstreams: list[UpstreamState] = Field(description="Primary first, then shadows, retired.")


def _state(up: Upstream, transactions: list[str]) -> UpstreamState:
    since = up.connected_since
    return UpstreamState(
        backend=up.backend.name,
        role=up.role,
        url=up.url,
        open=up.is_open,
        connected_since=datetime.fromtimestamp(since, UTC) if since else None,
        dials=up.dials,
        open_transactions=transactions,
    )


@router.get("", response_model=list[Link], summary="Chargers relayed by this replica")
async def list_links(request: Request) -> list[Link]:
    relay: Relay = request.app.state.relay
    out = []
    for charger_id in sorted(relay.links):
        link = relay.links[charger_id]
        upstreams = [
            _state(up, [tx.key for tx in link.book.owned_by(up.backend.name)])
            for up in link.upstreams()
        ]
        out.append(Link(charger_id=charger_id, ocpp=link.version.value, upstreams=upstreams))
    return out
