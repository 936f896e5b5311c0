"""Store-and-forward: a charger's CALLs kept in JetStream for a backend that is down.

One subject per (backend, charger) in the work-queue stream SY_OUTBOX: a CALL is stored (and
acknowledged by JetStream) before the charger gets its local answer, and removed only after the
backend answered it on delivery, so nothing is lost; delivery is in the order stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from sy_bus import streams, subjects

log = logging.getLogger(__name__)
LOCAL_TX = "Sy-Local-Tx"  # the transactionId the gateway gave the charger for a stored start
# Delivers one stored frame (with its local transaction id); False when the backend is gone.
Send = Callable[[str, int | None], Awaitable[bool]]


class Outbox:
    def __init__(self, js: JetStreamContext, backend: str, charger_id: str) -> None:
        self._js = js
        self.backend = backend
        self.charger_id = charger_id
        self.subject = subjects.outbox(backend, charger_id)
        digest = hashlib.sha256(self.subject.encode()).hexdigest()[:20]
        self._consumer = f"outbox-{digest}"

    async def store(self, frame: str, local_transaction_id: int | None = None) -> None:
        """Durably store a CALL frame; raises when JetStream did not take it."""
        headers = {LOCAL_TX: str(local_transaction_id)} if local_transaction_id else None
        await self._js.publish(
            self.subject, frame.encode(), stream=streams.OUTBOX.name, headers=headers
        )

    async def pending(self) -> int:
        info = await self._js.stream_info(streams.OUTBOX.name, subjects_filter=self.subject)
        counts = info.state.subjects or {}
        return int(counts.get(self.subject, 0))

    async def forget_consumer(self) -> None:
        try:
            await self._js.delete_consumer(streams.OUTBOX.name, self._consumer)
        except Exception:  # never created, or already gone
            log.debug("no outbox consumer %s to delete", self._consumer)

    async def deliver(self, send: Send, batch: int = 50) -> int:
        """Hand up to `batch` stored CALLs, oldest first, to `send`; one that `send` could not
        deliver (it returns False) stays first in line. Returns how many were delivered."""
        sub = await self._js.pull_subscribe(
            self.subject,
            durable=self._consumer,
            stream=streams.OUTBOX.name,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=1,  # strictly one at a time: delivery order is stored order
                ack_wait=60,
            ),
        )
        delivered = 0
        try:
            while delivered < batch:
                try:
                    msgs = await sub.fetch(1, timeout=0.2)
                except Exception:  # nothing left (fetch timed out)
                    break
                msg = msgs[0]
                local = (msg.headers or {}).get(LOCAL_TX)
                if not await send(msg.data.decode(), int(local) if local else None):
                    await msg.nak()
                    break
                await msg.ack_sync()
                delivered += 1
        finally:
            await sub.unsubscribe()
        return delivered
