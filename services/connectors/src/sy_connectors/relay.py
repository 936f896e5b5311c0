"""The connectors' side of the bus: charger CALLs in, presence in, routes in; one link per charger.

Links are keyed by charger, and only for chargers in the shards this replica leases
(`ShardKeeper`): it subscribes to `sy.up.<shard>.*` for each of them and opens upstreams for the
chargers of the shard that are connected. Presence events carry the edge's connection id and a
timestamp, so a late "disconnected" from a charger's previous socket never closes the link of
its new one.

A link that ends is forgotten at once and closed in the background, a bounded number at a time:
closing waits for each backend's closing handshake, and when a fleet disconnects together (an
edge restart, a network cut) the presence events behind it must not wait for thousands of those,
one after the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import BadRequestError, KeyNotFoundError
from nats.js.kv import KeyValue

from sy_bus import EdgeAlive, Header, Presence, subjects
from sy_codec import CallError, ErrorKind, OcppVersion, encode, error_code
from sy_connectors import metrics
from sy_connectors.edges import EdgeGone, EdgeWatch
from sy_connectors.link import ChargerLink, LinkContext
from sy_connectors.routes import RouteTable
from sy_connectors.shards import ShardKeeper
from sy_events.models import ChargerDisconnected, to_json
from sy_events.subjects import subject_for

log = logging.getLogger(__name__)


# Replicas subscribe to a shard's CALLs in one queue group: should two ever hold the same shard
# (a lease taken over from a replica that was only slow), each CALL still goes to one of them.
QUEUE = "connectors"
DRAIN = "drain"  # the edge's reason when it closed a charger's socket itself, to shut down
EDGE_LOST = "edge_lost"  # the reason given for the chargers of an edge replica that crashed
CLOSING_AT_ONCE = 256  # links closed concurrently; the others wait for a slot
# After an edge replica is declared gone, when the presence entries of its chargers that have
# not come back are deleted (their events go at once).
PRESENCE_CLEANUP_AFTER_S = 60.0


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
        self.closing: dict[str, asyncio.Task[None]] = {}  # charger -> its old link's closing
        self.edges = EdgeWatch(ctx.settings.edge_lost_after_s)
        self.presence_cleanup_after_s = PRESENCE_CLEANUP_AFTER_S
        self._edge_sweep: asyncio.TimerHandle | None = None
        self._close_slots = asyncio.Semaphore(CLOSING_AT_ONCE)

    async def start(self) -> None:
        await self.routes.start()
        nc = self._ctx.nc
        self._subs.append(await nc.subscribe(subjects.PRESENCE_ALL, cb=self._on_presence))
        self._subs.append(await nc.subscribe(subjects.EDGES_ALIVE_ALL, cb=self._on_edge_alive))
        await self._load_presence()
        self._sweep_edges_later()
        await self.shards.start()

    async def stop(self) -> None:
        if self._edge_sweep is not None:
            self._edge_sweep.cancel()
        await self.shards.stop()  # hands every shard over, CALLs in flight finished first
        for pending in self._pending_drops.values():
            pending.cancel()
        self._pending_drops.clear()
        for sub in self._subs:
            await sub.unsubscribe()
        for task in list(self._background):  # no link is made or changed from here on
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await asyncio.gather(*(self._drop(cid) for cid in list(self.links)))
        await self._closed(set(self.closing))
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
        # Links of the shard still closing after their charger left: closed before the lease
        # goes, so the next owner never opens a charger's upstream while this one still has it.
        await self._closed({cid for cid in self.closing if subjects.shard_of(cid) == shard})

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
                if p.charger_id in self.closing:
                    self._after_close(p.charger_id)  # its previous link first
                else:
                    self._link(p.charger_id, OcppVersion(p.ocpp), p.connection_id, p.ts_ns)
            elif link.connection_id != p.connection_id and p.ts_ns > link.presence_ts:
                if link.version.value == p.ocpp:
                    # A new socket (edge restarted or drained, another edge): the upstreams stay.
                    link.reattach(p.connection_id, p.ts_ns)
                else:  # it came back speaking another OCPP version: new upstreams in that one
                    self._drop_soon(p.charger_id)
                    self._after_close(p.charger_id)
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
                self._drop_soon(p.charger_id)

    # -- edge replicas ----------------------------------------------------------------------------

    async def _on_edge_alive(self, msg: Msg) -> None:
        try:
            beat = EdgeAlive.from_bytes(msg.data)
        except Exception:
            log.warning("unreadable edge heartbeat on %s", msg.subject)
            return
        gone = self.edges.heard(beat, asyncio.get_running_loop().time())
        if gone is not None:
            self._edge_gone(gone)

    def _sweep_edges_later(self) -> None:
        loop = asyncio.get_running_loop()
        self._edge_sweep = loop.call_later(self.edges.lost_after_s / 4, self._sweep_edges)

    def _sweep_edges(self) -> None:
        for gone in self.edges.silent(asyncio.get_running_loop().time()):
            self._edge_gone(gone)
        self._sweep_edges_later()

    def _edge_gone(self, gone: EdgeGone) -> None:
        """Forget the chargers the replica announced before it was gone; close their links."""
        lost = [
            p
            for p in self.present.values()
            if p.instance == gone.instance and (gone.before_ns is None or p.ts_ns < gone.before_ns)
        ]
        if not lost:
            return
        metrics.EDGE_LOST.labels(gone.why).inc(len(lost))
        log.warning(
            "edge replica %s %s: closing the upstreams of %d charger(s) it held",
            gone.instance,
            "restarted" if gone.why == "restarted" else "fell silent",
            len(lost),
        )
        # A replica that restarted is back already: its chargers are on their way back to it
        # (or to another), and keep their upstreams if they return within the drain grace, as
        # after a drain. One that fell silent was given that time already.
        grace = self._ctx.settings.drain_reattach_s if gone.why == "restarted" else 0.0
        for p in lost:
            del self.present[p.charger_id]
            link = self.links.get(p.charger_id)
            if link is not None and link.connection_id in (p.connection_id, ""):
                if grace > 0:
                    self._drop_later(p.charger_id, link.connection_id, grace)
                else:
                    self._keep(p.charger_id)
                    self._drop_soon(p.charger_id)
        # The disconnection the replica could not announce, by the owner of each charger's shard,
        # with the edge's own event id for it (JetStream drops a second publication); and the
        # presence entry it could not delete.
        at = datetime.fromtimestamp(gone.at_ns / 1e9, UTC) if gone.at_ns else datetime.now(UTC)
        self._spawn(self._announce_lost([p for p in lost if self.owns(p.charger_id)], at))

    async def _announce_lost(self, lost: list[Presence], at: datetime) -> None:
        js = self._ctx.js
        for p in lost:
            event = ChargerDisconnected(
                event_id=f"d-{p.connection_id}",
                charger_id=p.charger_id,
                ts=at,
                ocpp=p.ocpp,
                connection_id=p.connection_id,
                instance=p.instance,
                reason=EDGE_LOST,
            )
            try:
                await js.publish(
                    subject_for(event), to_json(event), headers={Header.DEDUP: event.event_id}
                )
            except Exception as exc:
                log.warning(
                    "disconnection event not published: %r", exc, extra={"charger_id": p.charger_id}
                )
        # Later, when the reconnect storm that usually follows is over: most chargers are back
        # by then and need no cleaning.
        await asyncio.sleep(self.presence_cleanup_after_s)
        for p in lost:
            back = self.present.get(p.charger_id)
            if back is None or back.connection_id == p.connection_id:
                await self._forget_presence(p)

    async def _forget_presence(self, p: Presence) -> None:
        """Delete the charger's `sy-presence` entry if it is still the lost connection's (the
        edge that would have deleted it is gone): a connectors replica started later would
        otherwise take the charger for connected and open its upstreams again."""
        key = subjects.charger_token(p.charger_id)
        try:
            entry = await self._presence_kv.get(key)
            if entry.value and Presence.from_bytes(entry.value).connection_id == p.connection_id:
                # Only that revision: a charger back meanwhile keeps its new entry (the server
                # then refuses the delete: wrong last sequence).
                await self._presence_kv.delete(key, last=entry.revision)
        except (KeyNotFoundError, BadRequestError):
            pass  # gone already, never written, or written again meanwhile
        except Exception as exc:
            log.warning("presence entry not deleted: %r", exc, extra={"charger_id": p.charger_id})

    def _drop_later(self, charger_id: str, connection_id: str, after_s: float) -> None:
        def drop_if_not_back() -> None:
            self._pending_drops.pop(charger_id, None)
            link = self.links.get(charger_id)
            if link is not None and link.connection_id == connection_id:
                self._drop_soon(charger_id)

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
        link = self.links.get(charger_id)
        if link is None and charger_id in self.closing:
            # Its previous link is still closing: this CALL waits for it (the charger sends
            # nothing else meanwhile, one CALL at a time), the shard's other chargers do not.
            self._spawn(self._submit_after_close(msg, charger_id, version))
            return
        await self._submit(msg, charger_id, version, link)

    async def _submit_after_close(self, msg: Msg, charger_id: str, version: OcppVersion) -> None:
        await self._closed({charger_id})
        await self._submit(msg, charger_id, version, self.links.get(charger_id))

    async def _submit(
        self, msg: Msg, charger_id: str, version: OcppVersion, link: ChargerLink | None
    ) -> None:
        headers = msg.headers or {}
        link = link or self._link(charger_id, version, headers.get(Header.CONNECTION, ""))
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
        """Forget the charger's link and close it (its upstreams closed when this returns)."""
        task = self._drop_soon(charger_id)
        if task is not None:
            await asyncio.wait({task})

    def _drop_soon(self, charger_id: str) -> asyncio.Task[None] | None:
        """Forget the charger's link now (a charger back meanwhile gets a new one) and close it
        in the background, at most `CLOSING_AT_ONCE` links at a time."""
        link = self.links.pop(charger_id, None)
        metrics.LINKS.set(len(self.links))
        if link is None:
            return None
        task = asyncio.create_task(self._close(link), name=f"close:{charger_id}")
        self.closing[charger_id] = task
        task.add_done_callback(lambda _: self._closed_one(charger_id, task))
        return task

    async def _close(self, link: ChargerLink) -> None:
        async with self._close_slots:
            try:
                await link.close()
            except Exception:
                log.exception("closing the link failed", extra={"charger_id": link.charger_id})

    def _closed_one(self, charger_id: str, task: asyncio.Task[None]) -> None:
        if self.closing.get(charger_id) is task:
            del self.closing[charger_id]

    async def _closed(self, charger_ids: set[str]) -> None:
        """Until the links of these chargers that are being closed are closed."""
        tasks = {self.closing[cid] for cid in charger_ids if cid in self.closing}
        if tasks:
            await asyncio.wait(tasks)

    def _after_close(self, charger_id: str) -> None:
        """Once the charger's previous link has closed, apply what is known of it then: a
        backend never sees the charger's old and new upstream at the same time, and presence
        events of other chargers do not wait for that close."""

        async def relink() -> None:
            await self._closed({charger_id})
            p = self.present.get(charger_id)
            if p is not None and self.owns(charger_id) and charger_id not in self.closing:
                await self._apply_presence(p)

        self._spawn(relink())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
            self._spawn(link.apply(route))
