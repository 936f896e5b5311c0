"""The chargers' WebSocket endpoint: ws://HOST:PORT<prefix>/<chargerId>."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from sy_codec import OcppVersion, negotiate_subprotocol
from sy_edge import metrics
from sy_edge.context import EdgeContext
from sy_edge.handshake import charger_id_from_path
from sy_edge.session import ChargerSession

log = logging.getLogger(__name__)


@asynccontextmanager
async def charger_endpoint(ctx: EdgeContext) -> AsyncIterator[None]:
    settings = ctx.settings
    supported = [OcppVersion(v) for v in settings.ocpp_versions]

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if charger_id_from_path(request.path, settings.ocpp_path_prefix) is None:
            metrics.REFUSED.labels("bad_path").inc()
            hint = f"connect to ws://<host>:{settings.ocpp_port}{settings.ocpp_path_prefix}/<chargerId>"
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not a charger endpoint: {hint}\n")
        return None

    def select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        chosen = negotiate_subprotocol(offered, supported)
        return Subprotocol(chosen.value) if chosen else None

    async def handler(ws: ServerConnection) -> None:
        charger_id = charger_id_from_path(
            ws.request.path if ws.request else "", settings.ocpp_path_prefix
        )
        assert charger_id is not None  # process_request refused every other path
        if ws.subprotocol is None:
            # OCPP-J 1.6 §3.2 and 2.0.1 Part 4 §3.2: finish the handshake without a subprotocol,
            # then close at once.
            metrics.REFUSED.labels("no_subprotocol").inc()
            offered = ws.request.headers.get("Sec-WebSocket-Protocol", "") if ws.request else ""
            log.warning(
                "refused: no supported OCPP subprotocol (offered %r)",
                offered,
                extra={"charger_id": charger_id},
            )
            await ws.close(1002, f"no supported subprotocol; use one of {settings.ocpp_versions}")
            return
        await ChargerSession(ws, charger_id, OcppVersion(ws.subprotocol), ctx).run()

    server = await serve(
        handler,
        settings.ocpp_host,
        settings.ocpp_port,
        process_request=process_request,
        select_subprotocol=select_subprotocol,
        subprotocols=[Subprotocol(v.value) for v in supported],
        max_size=settings.max_frame_bytes,
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_interval_s,
        compression=None,
        server_header="Switchyard",
    )
    log.info(
        "chargers connect to ws://%s:%d%s/<chargerId>",
        settings.ocpp_host,
        settings.ocpp_port,
        settings.ocpp_path_prefix,
    )
    try:
        yield
    finally:
        server.close(close_connections=False)
        for session in list(ctx.sessions.values()):
            await session.ws.close(1001, "gateway shutting down")
        await server.wait_closed()
