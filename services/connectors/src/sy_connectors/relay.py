"""The connectors' side of the bus: charger CALLs in, presence in, routes in; one link per charger.

Links are keyed by charger, and only for chargers in the shards this replica leases
(`ShardKeeper`): it subscribes to `sy.up.<shard>.*` for each of them and opens upstreams for the
chargers of the shard that are connected. Presence events carry the edge's connection id and a
timestamp, so a late "disconnected" from a charger's previous socket never closes the link of
its new one.
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
from sy_connectors.shards import ShardKeeper

log = logging.getLogger(__name__)


# Replicas subscribe to a shard's CALLs in one queue group: should two ever hold the same shard
# (a lease taken over from a replica that was only slow), each CALL still goes to one of them.
QUEUE = "connectors"
DRAIN = "drain"  # the edge's reason when it closed a charger's socket itself, to shut down


class Relay:
    def __init__(
        self, ctx: LinkContext, routes_kv: KeyValue, presence_kv: KeyValue, shards_kv: KeyValue
    ) -> None:
        self._ctx = ctx
        self._presence_kv = presence_kv
        self.routes = RouteTable(routes_kv, self._on_route_change)
        self.links: dict[str, ChargerLink] = {}
        self.present: dict[str, Presence] = {}  # every connected charger, on any edge
        self.shards = ShardKeeper(
            shards_kv,
            ctx.settings.instance_id,
            ctx.settings.shard_lease_s,
            self._serve_shard,
            self._leave_shard,
        )
        self._shard_subs: dict[int, Subscription] = {}
        self._pending_drops: dict[str, asyncio.TimerHandle] = {}
        self._subs: list[Subscription] = []
        self._background: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        await self.routes.start()
        nc = self._ctx.nc
        self._subs.append(await nc.subscribe(subjects.PRESENCE_ALL, cb=self._on_presence))
        await self._load_presence()
        await self.shards.start()

    async def stop(self) -> None:
        await self.shards.stop()  # hands every shard over, CALLs in flight finished first
        for pending in self._pending_drops.values():
            pending.cancel()
        self._pending_drops.clear()
        for sub in self._subs:
            await sub.unsubscribe()
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
        metrics.LINKS.set(0)
        await self.routes.stop()

    def owns(self, charger_id: str) -> bool:
        return subjects.shard_of(charger_id) in self._shard_subs

    # -- shards -----------------------------------------------------------------------------------

    async def _serve_shard(self, shard: int) -> None:
        self._shard_subs[shard] = await self._ctx.nc.subscribe(
            subjects.up_shard(shard), queue=QUEUE, cb=self._on_up
        )
        for p in [p for p in self.present.values() if subjects.shard_of(p.charger_id) == shard]:
            await self._apply_presence(p)

    async def _leave_shard(self, shard: int, graceful: bool) -> None:
        """Stop taking the shard's CALLs; when handing over, let those in flight finish."""
        sub = self._shard_subs.pop(shard, None)
        if sub is not None:
            if graceful:
                await sub.drain()  # type: ignore[no-untyped-call]  # CALLs on their way are still taken
            else:
                await sub.unsubscribe()
        leaving = [cid for cid in self.links if subjects.shard_of(cid) == shard]
        if graceful:
            timeout = self._ctx.settings.handover_timeout_s
            await asyncio.gather(*(self.links[cid].wait_idle(timeout) for cid in leaving))
        await asyncio.gather(*(self._drop(cid) for cid in leaving if not self.owns(cid)))

    # -- presence ---------------------------------------------------------------------------------

    async def _load_presence(self) -> None:
        """The chargers the edges hold right now (events that arrived meanwhile are newer)."""
        watcher = await self._presence_kv.watchall(ignore_deletes=True)
        try:
            async for entry in watcher:
                if entry is None:
                    break
                if not entry.value:
                    continue
                try:
                    p = Presence.from_bytes(entry.value)
                except Exception:
                    log.warning("unreadable presence entry %r", entry.key)
                    continue
                if p.connected and p.charger_id not in self.present:
                    self.present[p.charger_id] = p
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]

    def _remember(self, p: Presence) -> None:
        known = self.present.get(p.charger_id)
        if p.connected:
            if known is None or p.ts_ns >= known.ts_ns:
                self.present[p.charger_id] = p
        elif known is not None and known.connection_id in (p.connection_id, ""):
            del self.present[p.charger_id]

    async def _on_presence(self, msg: Msg) -> None:
        try:
            presence = Presence.from_bytes(msg.data)
        except Exception:
            log.warning("unreadable presence message on %s", msg.subject)
            return
        self._remember(presence)
        if self.owns(presence.charger_id):
            await self._apply_presence(presence)

    async def _apply_presence(self, p: Presence) -> None:
        link = self.links.get(p.charger_id)
        if p.connected:
            self._keep(p.charger_id)
            if link is None:
                self._link(p.charger_id, OcppVersion(p.ocpp), p.connection_id, p.ts_ns)
            elif link.connection_id != p.connection_id and p.ts_ns > link.presence_ts:
                if link.version.value == p.ocpp:
                    # A new socket (edge restarted or drained, another edge): the upstreams stay.
                    link.reattach(p.connection_id, p.ts_ns)
                else:  # it came back speaking another OCPP version: new upstreams in that one
                    await self._drop(p.charger_id)
                    self._link(p.charger_id, OcppVersion(p.ocpp), p.connection_id, p.ts_ns)
            else:
                link.connection_id, link.presence_ts = (
                    p.connection_id,
                    max(p.ts_ns, link.presence_ts),
                )
        elif link is not None and link.connection_id in (p.connection_id, ""):
            grace = self._ctx.settings.drain_reattach_s
            if p.reason == DRAIN and grace > 0:
                # The gateway closed the socket, not the charger: it is on its way back to
                # another edge. Keep its upstreams a while, so the backends see no outage.
                self._drop_later(p.charger_id, link.connection_id, grace)
            else:
                await self._drop(p.charger_id)

    def _drop_later(self, charger_id: str, connection_id: str, after_s: float) -> None:
        def drop_if_not_back() -> None:
            self._pending_drops.pop(charger_id, None)
            link = self.links.get(charger_id)
            if link is not None and link.connection_id == connection_id:
                task = asyncio.ensure_future(self._drop(charger_id))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

        self._keep(charger_id)
        loop = asyncio.get_running_loop()
        self._pending_drops[charger_id] = loop.call_later(after_s, drop_if_not_back)

    def _keep(self, charger_id: str) -> None:
        pending = self._pending_drops.pop(charger_id, None)
        if pending is not None:
            pending.cancel()

    async def _on_up(self, msg: Msg) -> None:
        headers = msg.headers or {}
        charger_id = headers.get(Header.CHARGER) or subjects.charger_id_from_token(
            subjects.token_of(msg.subject, 3)
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
