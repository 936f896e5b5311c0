"""The connectors' side of the bus: charger CALLs in, presence in, routes in; one link per charger.

Links are keyed by charger. Presence events carry the edge's connection id and a timestamp, so a
late "disconnected" from a charger's previous socket never closes the link of its new one.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.kv import KeyValue

from sy_bus import Header, Presence, subjects
from sy_codec import CallError, ErrorKind, OcppVersion, encode, error_code
from sy_connectors import metrics
from sy_connectors.link import ChargerLink, LinkContext
from sy_connectors.routes import RouteTable

log = logging.getLogger(__name__)


class Relay:
    def __init__(self, ctx: LinkContext, routes_kv: KeyValue, presence_kv: KeyValue) -> None:
        self._ctx = ctx
        self._presence_kv = presence_kv
        self.routes = RouteTable(routes_kv, self._on_route_change)
        self.links: dict[str, ChargerLink] = {}
        self._subs: list[Subscription] = []
        self._background: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        await self.routes.start()
        nc = self._ctx.nc
        self._subs.append(await nc.subscribe(subjects.PRESENCE_ALL, cb=self._on_presence))
        self._subs.append(await nc.subscribe(subjects.UP_ALL, cb=self._on_up))
        await self._restore()

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
        metrics.LINKS.set(0)
        await self.routes.stop()

    async def _restore(self) -> None:
        """After a restart, reopen upstreams for the chargers the edges hold right now."""
        try:
            keys = await self._presence_kv.keys()
        except Exception:  # an empty bucket raises NoKeysError
            return
        for key in keys:
            entry = await self._presence_kv.get(key)
            if entry.value:
                await self._apply_presence(Presence.from_bytes(entry.value))

    async def _on_presence(self, msg: Msg) -> None:
        try:
            presence = Presence.from_bytes(msg.data)
        except Exception:
            log.warning("unreadable presence message on %s", msg.subject)
            return
        await self._apply_presence(presence)

    async def _apply_presence(self, p: Presence) -> None:
        link = self.links.get(p.charger_id)
        if p.connected:
            if link is None:
                self._link(p.charger_id, OcppVersion(p.ocpp), p.connection_id, p.ts_ns)
            elif link.connection_id != p.connection_id and p.ts_ns > link.presence_ts:
                # The charger opened a new socket: give the backend a fresh connection too, so
                # message ids restarted by the charger are unique on the upstream (invariant 3).
                await self._drop(p.charger_id)
                self._link(p.charger_id, OcppVersion(p.ocpp), p.connection_id, p.ts_ns)
            else:
                link.connection_id, link.presence_ts = (
                    p.connection_id,
                    max(p.ts_ns, link.presence_ts),
                )
        elif link is not None and link.connection_id in (p.connection_id, ""):
            await self._drop(p.charger_id)

    async def _on_up(self, msg: Msg) -> None:
        headers = msg.headers or {}
        charger_id = headers.get(Header.CHARGER) or subjects.charger_id_from_token(
            subjects.token_of(msg.subject)
        )
        try:
            version = OcppVersion(headers.get(Header.OCPP, ""))
        except ValueError:
            log.error("CALL without a valid OCPP version header", extra={"charger_id": charger_id})
            return
        link = self.links.get(charger_id) or self._link(
            charger_id, version, headers.get(Header.CONNECTION, "")
        )
        if link is None:
            message_id = headers.get(Header.MESSAGE_ID, "-1")
            description = "no backend is routed for this charger; set a default route"
            metrics.GATEWAY_ERRORS.labels("no_route").inc()
            log.warning(description, extra={"charger_id": charger_id})
            code = error_code(ErrorKind.INTERNAL, version)
            await msg.respond(encode(CallError(message_id, code, description, {})).encode())
            return
        link.submit_up(msg)

    def _link(
        self, charger_id: str, version: OcppVersion, connection_id: str, ts: int = 0
    ) -> ChargerLink | None:
        route = self.routes.resolve(charger_id)
        if route is None:
            return None
        link = ChargerLink(charger_id, version, route, self._ctx, connection_id, ts)
        self.links[charger_id] = link
        metrics.LINKS.set(len(self.links))
        return link

    async def _drop(self, charger_id: str) -> None:
        link = self.links.pop(charger_id, None)
        metrics.LINKS.set(len(self.links))
        if link is not None:
            await link.close()

    def _on_route_change(self, charger_id: str | None) -> None:
        affected = [charger_id] if charger_id is not None else list(self.links)
        for cid in affected:
            link = self.links.get(cid)
            route = self.routes.resolve(cid)
            if link is None:
                continue
            if route is None:
                log.warning("route removed; keeping the current backend", extra={"charger_id": cid})
                continue
            task = asyncio.ensure_future(link.apply(route))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
