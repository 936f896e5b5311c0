"""The chargers' WebSocket endpoint: ws(s)://HOST:PORT<prefix>/<chargerId>."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from sy_codec import OcppVersion, negotiate_subprotocol
from sy_edge import metrics
from sy_edge.admitted import Admitted
from sy_edge.context import EdgeContext
from sy_edge.handshake import charger_id_from_path
from sy_edge.handshake_auth import Gatekeeper
from sy_edge.session import ChargerSession
from sy_edge.tls import server_context

log = logging.getLogger(__name__)


@asynccontextmanager
async def charger_endpoint(ctx: EdgeContext) -> AsyncIterator[None]:
    settings = ctx.settings
    supported = [OcppVersion(v) for v in settings.ocpp_versions]
    gate = Gatekeeper(ctx)
    admitted: weakref.WeakKeyDictionary[ServerConnection, Admitted] = weakref.WeakKeyDictionary()
    tls = server_context(settings)
    scheme = "wss" if tls else "ws"

    async def process_request(connection: ServerConnection, request: Request) -> Response | None:
        charger_id = charger_id_from_path(request.path, settings.ocpp_path_prefix)
        if charger_id is None:
            metrics.REFUSED.labels("bad_path").inc()
            hint = f"connect to {scheme}://<host>:{settings.ocpp_port}{settings.ocpp_path_prefix}/<chargerId>"
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not a charger endpoint: {hint}\n")
        if ctx.draining:
            return gate.busy(connection, "draining")
        refused = gate.admit(connection, charger_id)
        if refused is not None:
            return refused
        decision = await gate.authenticate(connection, request, charger_id)
        if isinstance(decision, Response):
            return decision
        admitted[connection] = decision
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
        decision = admitted.pop(ws, None)
        assert charger_id is not None and decision is not None  # process_request admitted it
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
        # Nothing reads the handshake's headers after this point, and websockets keeps both sets
        # for the connection's lifetime: ~3.5 KiB of every idle charger. Keep the path only.
        if ws.request is not None:
            ws.request = Request(ws.request.path, Headers())
        ws.response = None
        session = ChargerSession(ws, charger_id, OcppVersion(ws.subprotocol), ctx, decision)
        await session.run()

    server = await serve(
        handler,
        settings.ocpp_host,
        settings.ocpp_port,
        ssl=tls,
        process_request=process_request,
        select_subprotocol=select_subprotocol,
        subprotocols=[Subprotocol(v.value) for v in supported],
        max_size=settings.max_frame_bytes,
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_timeout_s or settings.ping_interval_s,
        compression=None,
        server_header="Switchyard",
        # A reconnect storm opens thousands of TCP connections at once; a short accept queue
        # would drop SYNs and stretch the storm with kernel retransmit back-offs.
        backlog=4096,
    )
    log.info(
        "chargers connect to %s://%s:%d%s/<chargerId>",
        scheme,
        settings.ocpp_host,
        settings.ocpp_port,
        settings.ocpp_path_prefix,
    )
    try:
        yield
    finally:
        ctx.draining = True
        server.close(close_connections=False)  # stop listening; sockets stay for the drain
        await drain(ctx, settings.drain_seconds)
        await server.wait_closed()


async def drain(ctx: EdgeContext, window_s: float) -> None:
    """Close every charger socket with 1001 (going away), spread evenly over `window_s`, so the
    chargers reconnect to the other replicas as a stream instead of all at once."""
    sessions = list(ctx.sessions.values())
    if not sessions:
        return
    log.info("draining %d chargers over %gs", len(sessions), window_s)
    loop = asyncio.get_running_loop()
    start = loop.time()
    step = window_s / len(sessions)
    for i, session in enumerate(sessions):
        delay = start + i * step - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        session.close(1001, "gateway draining; reconnect", "drain")
    closing = [asyncio.ensure_future(s.ws.wait_closed()) for s in sessions]
    await asyncio.wait(closing, timeout=10.0)
    log.info("drained; %d chargers left", len(ctx.sessions))
