"""Everything the connectors hold for one charger: an upstream to its primary, one per shadow,
and old primaries kept only for the transactions they started; the serial lanes (charger CALLs
up, backend CALLs down, one per shadow), one outstanding CALL each (invariant 2).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace

from sy_bus import BackendRef, EffectiveRoute, FramePublisher, Header
from sy_calls import Lane, LaneClosed
from sy_codec import Call, CallError, ErrorKind, OcppVersion, decode, encode, error_code
from sy_connectors import metrics
from sy_connectors.access import DialGate
from sy_connectors.commands import BackendCommands
from sy_connectors.forwarding import StoreAndForward
from sy_connectors.idstore import IdStore
from sy_connectors.memory import ChargerMemory
from sy_connectors.sessions import SessionLog
from sy_connectors.settings import ConnectorSettings
from sy_connectors.shadow import ShadowCopy, ShadowRunner
from sy_connectors.transactions import TransactionBook, is_end, is_start
from sy_connectors.upstream import BackendUnavailable, Upstream
from sy_connectors.work import Drain, Replay, Work, result_payload
from sy_platform.telemetry import span

log = logging.getLogger(__name__)
tracer = trace.get_tracer("sy_connectors")


@dataclass
class LinkContext:
    settings: ConnectorSettings
    nc: Client
    js: JetStreamContext
    frames: FramePublisher
    sessions: SessionLog
    memory_kv: tuple[Any, Any]  # (sy-state, sy-transactions) KV buckets
    gates: dict[str, DialGate] = field(default_factory=dict)

    def gate(self, backend: BackendRef) -> DialGate | None:
        if not backend.connect_rate_per_s:
            return None
        gate = self.gates.get(backend.name)
        if gate is None or gate.rate != backend.connect_rate_per_s:
            gate = self.gates[backend.name] = DialGate(backend.connect_rate_per_s)
        return gate


class ChargerLink:
    def __init__(
        self,
        charger_id: str,
        version: OcppVersion,
        route: EffectiveRoute,
        ctx: LinkContext,
        connection_id: str = "",
        presence_ts: int = 0,
    ) -> None:
        self.charger_id = charger_id
        self.version = version
        self._connection_id = connection_id
        self.presence_ts = presence_ts
        self._ctx = ctx
        self._log = {"charger_id": charger_id}
        self._background: set[asyncio.Future[None]] = set()
        self.memory = ChargerMemory(charger_id, version, *ctx.memory_kv)
        self.book = TransactionBook(version)
        self.ids = IdStore(charger_id, version, ctx.memory_kv[1])
        self._loaded = asyncio.Event()
        self.log_extra = {"charger_id": charger_id}
        self.forward = StoreAndForward(self, ctx.js, ctx.settings)
        # Eager: a CALL to an idle lane goes to its backend within the bus message's own turn
        # of the event loop, not on the next one.
        self._up: Lane[Work] = Lane(
            f"up:{charger_id}", self._relay_up, on_drop=self._refuse_up, eager=True
        )
        self.commands = BackendCommands(self, ctx.nc, ctx.settings)
        self.primary = self._open(route.primary, "primary")
        self.shadows: dict[str, Upstream] = {}
        self.retired: dict[str, Upstream] = {}
        self.shadow_runner = ShadowRunner(self, ctx.js)
        for backend in route.shadows:
            self._add_shadow(backend)
        self._spawn(self._load())

    @property
    def connection_id(self) -> str:
        """The charger's socket at the edge (from presence or its CALLs' headers)."""
        return self._connection_id

    @connection_id.setter
    def connection_id(self, value: str) -> None:
        self._connection_id = value
        for upstream in self.upstreams():
            upstream.connection_id = value

    def reattach(self, connection_id: str, presence_ts: int) -> None:
        """The charger is back on a new socket (its edge restarted or drained, or it moved to
        another edge) while its upstreams stayed open: keep them, so no backend sees the
        gateway's own restart as the charger going away. Its message ids start afresh on the new
        socket, so open upstreams take its CALLs under gateway ids from now on (invariant 3)."""
        self.connection_id = connection_id
        self.presence_ts = presence_ts
        for upstream in self.upstreams():
            upstream.rewrite_ids = upstream.rewrite_ids or upstream.is_open

    # -- upstreams ------------------------------------------------------------------------------

    def _open(self, backend: BackendRef, role: str) -> Upstream:
        upstream = Upstream(
            self.charger_id,
            self.version,
            backend,
            self._ctx.settings,
            self._ctx.frames,
            on_call=self.commands.from_backend,
            gate=self._ctx.gate(backend),
        )
        upstream.role = role
        upstream.connection_id = self._connection_id
        upstream.on_open = self.forward.opened
        upstream.start()
        upstream.session_id = self._ctx.sessions.started(
            self.charger_id, backend.name, upstream.url, self.version.value
        )
        return upstream

    def _add_shadow(self, backend: BackendRef) -> None:
        self.shadows[backend.name] = self._open(backend, "shadow")
        self.shadow_runner.add(backend.name)

    async def _close(self, upstream: Upstream) -> None:
        await upstream.close()
        self._ctx.sessions.ended(upstream.session_id)

    def upstream_named(self, name: str) -> Upstream | None:
        if self.primary.backend.name == name:
            return self.primary
        return self.shadows.get(name) or self.retired.get(name)

    def upstreams(self) -> list[Upstream]:
        return [self.primary, *self.shadows.values(), *self.retired.values()]

    async def apply(self, route: EffectiveRoute) -> None:
        """Hot cutover to a new route; the charger's socket to the edge is untouched."""
        old = self.primary
        wanted_shadows = {b.name: b for b in route.shadows}
        if route.primary.name != old.backend.name:
            promoted = self.shadows.pop(route.primary.name, None) or self.retired.pop(
                route.primary.name, None
            )
            if promoted is not None and promoted.backend != route.primary:
                await self._close(promoted)
                promoted = None
            if promoted is not None:
                self.shadow_runner.remove(route.primary.name)
            self.primary = promoted or self._open(route.primary, "primary")
            self.primary.role = "primary"
            self.primary.backend = route.primary
            log.info("cutover %s -> %s", old.backend.name, route.primary.name, extra=self._log)
            self.submit(Replay(self.primary))
            await self._retire_or_close(old, wanted_shadows)
        elif route.primary != old.backend:
            old.backend = route.primary  # same backend, new ACL or timeout: keep the socket
        for name in list(self.shadows):
            if name not in wanted_shadows or self.shadows[name].backend != wanted_shadows[name]:
                gone = self.shadows.pop(name)
                self.shadow_runner.remove(name)
                await self._retire_or_close(gone, {})
        for name, backend in wanted_shadows.items():
            if name not in self.shadows and name != self.primary.backend.name:
                revived = self.retired.pop(name, None)
                if revived is not None:
                    revived.role, revived.backend = "shadow", backend
                    self.shadows[name] = revived
                    self.shadow_runner.add(name)
                else:
                    self._add_shadow(backend)

    async def _retire_or_close(self, upstream: Upstream, shadows: dict[str, BackendRef]) -> None:
        name = upstream.backend.name
        if name in shadows and name not in self.shadows:
            upstream.role, upstream.backend = "shadow", shadows[name]
            self.shadows[name] = upstream
            self.shadow_runner.add(name)
        elif self.book.owned_by(name):
            upstream.role = "retired"  # invariant 6: its transactions finish there
            self.retired[name] = upstream
            log.info(
                "keeping %s for %d open transaction(s)",
                name,
                len(self.book.owned_by(name)),
                extra=self._log,
            )
        else:
            await self._close(upstream)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until no charger CALL and no backend CALL is queued or in flight (hand-over)."""
        up_done = await self._up.wait_idle(timeout_s)
        return await self.commands.wait_idle(timeout_s) and up_done

    async def close(self) -> None:
        await self._up.close()
        await self.commands.close()
        await self.shadow_runner.close()
        # Each close waits for its backend's closing handshake: all at once, not in turn.
        await asyncio.gather(*(self._close(upstream) for upstream in self.upstreams()))
        await self.memory.flush()

    async def _load(self) -> None:
        try:
            self.book = TransactionBook(self.version, await self.memory.load())
            owners = {tx.owner for tx in self.book.open.values()} | {self.primary.backend.name}
            await self.forward.load(owners)
        except Exception as exc:  # the link works without memory; it just cannot pin history
            log.warning("charger memory not loaded: %r", exc, extra=self._log)
        await self.ids.load()  # after the book: backend CALLs wait for it (commands.py)
        self._loaded.set()
        for upstream in self.upstreams():
            if upstream.is_open:
                self.forward.opened(upstream)

    # -- charger CALL (from the edge) -> owner or primary -----------------------------------------

    def submit_up(self, msg: Msg) -> None:
        self.submit(msg)

    def submit(self, item: Work) -> None:
        try:
            self._up.submit(item)
        except (asyncio.QueueFull, LaneClosed):
            if isinstance(item, Msg):
                self._refuse_up(item)

    async def _relay_up(self, item: Work) -> None:
        await self._loaded.wait()
        if isinstance(item, Replay):
            await self._replay(item.upstream, item.statuses_only)
            return
        if isinstance(item, Drain):
            await self.forward.drain(item.backend)
            return
        msg = item
        headers = msg.headers or {}
        text = msg.data.decode()
        decoded = decode(text, self.version)
        if not isinstance(decoded, Call):
            await msg.respond(self.error("-1", "not_a_call", "only CALLs go upstream").encode())
            return
        call = decoded
        tx = self.book.owner_of(call)
        asker = self.ids.asker(call)  # a report on one backend's request goes to it alone
        target = (
            (self.upstream_named(asker) if asker else None)
            or (self.upstream_named(tx.owner) if tx else None)
            or self.primary
        )
        # An open backend without stored CALLs takes it (`holds` says so, at a coroutine's cost).
        offline = not target.is_open or target.backend.name in self.forward.backlog
        if offline and await self.forward.holds(call, target):
            answer = await self.forward.answer_offline(target.backend.name, call, text)
            await msg.respond(answer.encode())
            self.memory.observe(call, text)
            self.shadow_runner.copy(ShadowCopy(call, None, None, tx, compare=False))
            return
        payload = self.book.payload_for(call, tx, target.backend.name) if tx else call.payload
        if payload is not None:
            payload = self.ids.payload_for(call, payload, target.backend.name)
        if payload is not call.payload and payload is not None:
            text = encode(Call(call.message_id, call.action, payload))
        with span(
            tracer,
            f"backend {call.action}",
            parent=headers,
            attributes={"ocpp.charger_id": self.charger_id, "ocpp.backend": target.backend.name},
        ):
            answer = await self._call(target, call.message_id, text)
        await msg.respond(answer.encode())
        if not (is_start(call, self.version) or is_end(call, self.version)):
            # nats-py writes the answer from its flusher task: let it go out before the
            # bookkeeping below, which only this lane reads. (A transaction's start or end
            # updates the book first, as it did before: backend commands read the book.)
            await asyncio.sleep(0)
        result = result_payload(answer, self.version)
        self._learn(call, target, result)
        self.forward.remember_authorization(call, result)
        self.memory.observe(call, text)
        if asker is None:
            self.shadow_runner.copy(ShadowCopy(call, result, answer, tx))

    async def _call(self, target: Upstream, message_id: str, text: str) -> str:
        backend = target.backend.name
        try:
            return await target.call(message_id, text)
        except BackendUnavailable:
            return self.error(message_id, "backend_unreachable", f"backend {backend} unreachable")
        except TimeoutError:
            return self.error(message_id, "backend_timeout", f"backend {backend} did not answer")
        except ConnectionError:
            return self.error(message_id, "backend_lost", f"connection to {backend} lost")

    def _learn(self, call: Call, target: Upstream, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        changed = False
        if is_start(call, self.version) and target is self.primary:
            changed = self.book.started(call, target.backend.name, result, []) is not None
        elif is_end(call, self.version):
            ended = self.book.ended(call)
            changed = ended is not None
            if ended is not None:
                self._spawn(self._release(ended.owner))
        if changed:
            self.memory.save_transactions(self.book.open)

    async def _release(self, backend: str) -> None:
        """An old primary whose last pinned transaction ended is closed."""
        upstream = self.retired.get(backend)
        if upstream is not None and not self.book.owned_by(backend):
            del self.retired[backend]
            log.info("last transaction on %s ended; closing it", backend, extra=self._log)
            await self._close(upstream)

    async def _replay(self, upstream: Upstream, statuses_only: bool = False) -> None:
        for message_id, frame in self.memory.replay(statuses_only):
            try:
                await upstream.call(message_id, frame)
            except (BackendUnavailable, TimeoutError, ConnectionError) as exc:
                log.warning("replay to %s stopped: %r", upstream.backend.name, exc, extra=self._log)
                return
        log.info("replayed boot and statuses to %s", upstream.backend.name, extra=self._log)

    def _refuse_up(self, item: Work) -> None:
        if isinstance(item, Msg):
            headers = item.headers or {}
            answer = self.error(headers.get(Header.MESSAGE_ID, "-1"), "busy", "gateway busy")
            self._spawn(item.respond(answer.encode()))

    # -- plumbing -------------------------------------------------------------------------------

    def error(self, message_id: str, reason: str, description: str) -> str:
        metrics.GATEWAY_ERRORS.labels(reason).inc()
        log.warning("answering %s: %s", message_id, description, extra=self._log)
        code = error_code(ErrorKind.INTERNAL, self.version)
        return encode(CallError(message_id, code, description, {}))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
