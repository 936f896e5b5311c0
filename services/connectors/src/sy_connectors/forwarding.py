"""Store-and-forward for one charger: while a backend is down, its transaction CALLs are stored
in order (invariant 1: answered only once stored), the rest of what keeps the charger charging is
answered locally, and everything stored is delivered in order once the backend is back."""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from nats.js import JetStreamContext

from sy_codec import Call, CallResult, OcppVersion, decode, encode
from sy_connectors import metrics
from sy_connectors.offline import (
    AuthorizationCache,
    answerable_offline,
    info_of,
    local_answer,
    local_transaction_id,
    stored,
    token_of,
)
from sy_connectors.outbox import Outbox
from sy_connectors.settings import ConnectorSettings
from sy_connectors.transactions import is_end, is_start
from sy_connectors.upstream import BackendUnavailable, Upstream
from sy_connectors.work import Drain, Replay, result_payload

if TYPE_CHECKING:
    from sy_connectors.link import ChargerLink

log = logging.getLogger(__name__)


class StoreAndForward:
    def __init__(
        self, link: ChargerLink, js: JetStreamContext, settings: ConnectorSettings
    ) -> None:
        self._link = link
        self._js = js
        self._grace_s = settings.offline_grace_s
        self.outboxes: dict[str, Outbox] = {}
        self.backlog: set[str] = set()  # backends with stored CALLs not yet delivered
        unknown = settings.offline_unknown_tag_status or (
            "Invalid" if link.version is OcppVersion.V16 else "Unknown"
        )
        self.auth = AuthorizationCache(settings.auth_cache_ttl_s, unknown)

    def outbox(self, backend: str) -> Outbox:
        box = self.outboxes.get(backend)
        if box is None:
            box = self.outboxes[backend] = Outbox(self._js, backend, self._link.charger_id)
        return box

    async def load(self, backends: set[str]) -> None:
        """After a restart: which backends still have stored CALLs of this charger."""
        for name in backends:
            if await self.outbox(name).pending():
                self.backlog.add(name)

    def opened(self, upstream: Upstream) -> None:
        if upstream.backend.name in self.backlog:
            self._link.submit(Drain(upstream.backend.name))

    async def holds(self, call: Call, target: Upstream) -> bool:
        """Whether the gateway answers this CALL itself: its backend is down, or stored CALLs
        for it still wait (newer ones queue behind them, keeping the order)."""
        if not answerable_offline(call, self._link.version):
            return False
        if target.backend.name in self.backlog:
            return True
        return not await target.wait_open(self._grace_s)

    def remember_authorization(self, call: Call, result: dict[str, Any] | None) -> None:
        token = token_of(call, self._link.version)
        info = info_of(result, self._link.version) if result is not None else None
        if token is not None and info is not None:
            self.auth.remember(token, info)

    async def answer_offline(self, backend: str, call: Call, text: str) -> str:
        """Invariant 1: a transaction CALL is answered only once it is stored for delivery."""
        metrics.LOCAL_ANSWERS.labels(call.action).inc()
        local_id = None
        if stored(call, self._link.version):
            if is_start(call, self._link.version) and self._link.version is OcppVersion.V16:
                local_id = local_transaction_id()
            try:
                await self.outbox(backend).store(text, local_id)
            except Exception as exc:
                log.error(
                    "could not store %s for %s: %r",
                    call.action,
                    backend,
                    exc,
                    extra=self._link.log_extra,
                )
                why = f"backend {backend} is down and the CALL could not be stored"
                return self._link.error(call.message_id, "store_failed", why)
            metrics.OUTBOX_STORED.labels(backend).inc()
            self.backlog.add(backend)
            if is_start(call, self._link.version):
                self._link.book.started_offline(call, backend, local_id)
                self._link.memory.save_transactions(self._link.book.open)
        payload = local_answer(call, self._link.version, self.auth, local_id)
        return encode(CallResult(call.message_id, payload))

    async def drain(self, backend: str) -> None:
        upstream = self._link.upstream_named(backend)
        if upstream is None or not upstream.is_open:
            return
        box = self.outbox(backend)
        delivered = await box.deliver(partial(self._deliver, upstream))
        if delivered:
            log.info(
                "delivered %d stored CALL(s) to %s", delivered, backend, extra=self._link.log_extra
            )
        if await box.pending():
            if upstream.is_open:
                self._link.submit(Drain(backend))  # next batch, after CALLs queued meanwhile
            return
        self.backlog.discard(backend)
        await box.forget_consumer()
        if upstream is self._link.primary:
            self._link.submit(Replay(upstream, statuses_only=True))  # statuses answered locally

    async def _deliver(self, upstream: Upstream, frame: str, local_id: int | None) -> bool:
        call = decode(frame, self._link.version)
        if not isinstance(call, Call):
            return True  # nothing deliverable: drop it rather than block the queue
        backend = upstream.backend.name
        tx = (
            self._link.book.open.get(str(local_id))
            if local_id is not None
            else self._link.book.owner_of(call)
        )
        payload = (
            self._link.book.payload_for(call, tx, backend) if tx and local_id is None else None
        )
        payload = self._link.ids.payload_for(call, payload or call.payload, backend)
        text = (
            frame
            if payload is call.payload
            else encode(Call(call.message_id, call.action, payload))
        )
        try:
            answer = await upstream.call(call.message_id, text)
        except (BackendUnavailable, TimeoutError, ConnectionError):
            return False
        metrics.OUTBOX_DELIVERED.labels(backend).inc()
        result = result_payload(answer, self._link.version)
        if tx is not None and local_id is not None and result is not None:
            self._link.book.learn(tx.key, backend, result)  # the backend's own id for the local one
            self._link.memory.save_transactions(self._link.book.open)
        elif (
            is_end(call, self._link.version) and result is not None and self._link.book.ended(call)
        ):
            self._link.memory.save_transactions(self._link.book.open)
        return True
