"""Shadows: every charger CALL is copied to each shadow backend on its own lane, after the
primary answered; the shadow's answer is compared field by field with the primary's and every
difference is published as a `shadow_divergence` event. Shadow answers never reach the charger.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from nats.js import JetStreamContext

from sy_bus import Header
from sy_calls import Lane
from sy_codec import Call, CallResult, OcppVersion, decode, encode
from sy_connectors import metrics
from sy_connectors.divergence import FieldDifference, compare
from sy_connectors.transactions import Transaction, is_start, transaction_key
from sy_connectors.upstream import BackendUnavailable
from sy_events.models import DivergentField, ShadowDivergence, to_json
from sy_events.subjects import subject_for

if TYPE_CHECKING:
    from sy_connectors.link import ChargerLink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowCopy:
    call: Call
    primary_result: dict[str, Any] | None  # None: the primary answered with a CALLERROR
    primary_answer: str | None  # the primary's answer frame, as the charger got it
    tx: Transaction | None  # the open transaction the CALL belongs to, as it was when relayed
    compare: bool = True  # False when the gateway answered locally (the primary was down)


class ShadowRunner:
    def __init__(self, link: ChargerLink, js: JetStreamContext) -> None:
        self._link = link
        self._js = js
        self._lanes: dict[str, Lane[ShadowCopy]] = {}
        self._background: set[asyncio.Future[None]] = set()

    def add(self, backend: str) -> None:
        if backend not in self._lanes:
            self._lanes[backend] = Lane(
                f"shadow:{self._link.charger_id}:{backend}", partial(self._send, backend)
            )

    def remove(self, backend: str) -> None:
        lane = self._lanes.pop(backend, None)
        if lane is not None:
            self._spawn(lane.close())

    def copy(self, item: ShadowCopy) -> None:
        for lane in self._lanes.values():
            try:
                lane.submit(item)
            except asyncio.QueueFull:
                metrics.SHADOW_SKIPPED.labels("queue_full").inc()

    async def close(self) -> None:
        for lane in self._lanes.values():
            await lane.close()
        self._lanes.clear()

    async def _send(self, backend: str, item: ShadowCopy) -> None:
        link = self._link
        upstream = link.shadows.get(backend)
        if upstream is None:
            return
        call, version = item.call, link.version
        start = is_start(call, version)
        tx = item.tx
        payload = call.payload
        if tx is not None and not start:
            mapped = link.book.payload_for(call, tx, backend)
            if mapped is None:  # started before this shadow was added, or its start failed
                metrics.SHADOW_SKIPPED.labels("transaction_unknown_to_shadow").inc()
                return
            payload = mapped
        payload = link.ids.payload_for(call, payload, backend)  # its own reservation ids etc.
        text = encode(Call(call.message_id, call.action, payload))
        try:
            answer = await upstream.call(call.message_id, text)
        except (BackendUnavailable, TimeoutError, ConnectionError) as exc:
            metrics.SHADOW_SKIPPED.labels("unreachable").inc()
            log.info("shadow %s did not answer %s: %r", backend, call.action, exc,
                     extra={"charger_id": link.charger_id})  # fmt: skip
            return
        decoded = decode(answer, version)
        result = decoded.payload if isinstance(decoded, CallResult) else None
        if start and result is not None and item.primary_result is not None:
            key = _start_key(call, item.primary_result, version)
            if key is not None:
                link.book.learn(key, backend, result)
                link.memory.save_transactions(link.book.open)
        differences = compare(item.primary_result, result) if item.compare else []
        if differences:
            self._publish(backend, call, differences, (item.primary_answer, answer))

    def _publish(
        self,
        backend: str,
        call: Call,
        differences: list[FieldDifference],
        answers: tuple[str | None, str | None],
    ) -> None:
        link = self._link
        metrics.SHADOW_DIVERGENCES.labels(backend, call.action).inc()
        summary = "; ".join(f"{d.path}: {d.primary!r} vs {d.shadow!r}" for d in differences)
        event = ShadowDivergence(
            event_id=f"d-{uuid.uuid4().hex}",
            charger_id=link.charger_id,
            ts=datetime.now(UTC),
            ocpp=link.version.value,
            connection_id=link.connection_id or None,
            action=call.action,
            message_id=call.message_id,
            primary=link.primary.backend.name,
            shadow=backend,
            primary_answer=answers[0],
            shadow_answer=answers[1],
            difference=summary[:500],
            fields=[
                DivergentField(path=d.path, primary=d.primary, shadow=d.shadow) for d in differences
            ],
        )
        log.info(
            "shadow %s diverges on %s: %s",
            backend,
            call.action,
            summary[:200],
            extra={"charger_id": link.charger_id},
        )
        self._spawn(self._js_publish(event))

    async def _js_publish(self, event: ShadowDivergence) -> None:
        try:
            await self._js.publish(
                subject_for(event), to_json(event), headers={Header.DEDUP: event.event_id}
            )
        except Exception as exc:
            log.warning("divergence event not published: %r", exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _start_key(call: Call, primary_result: dict[str, Any], version: OcppVersion) -> str | None:
    if version is OcppVersion.V16:
        tx_id = primary_result.get("transactionId")
        return str(tx_id) if tx_id is not None else None
    return transaction_key(call, version)
