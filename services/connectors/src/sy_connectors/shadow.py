"""Shadows: every charger CALL is copied to each shadow backend on its own lane, after the
primary answered; the shadow's answer is compared field by field with the primary's and every
difference is published as a `shadow_divergence` event. Shadow answers never reach the charger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from nats.js import JetStreamContext

from sy_bus import subjects
from sy_calls import Lane
from sy_codec import Call, CallResult, OcppVersion, decode, encode
from sy_connectors import metrics
from sy_connectors.divergence import FieldDifference, compare
from sy_connectors.transactions import Transaction, is_start, transaction_key
from sy_connectors.upstream import BackendUnavailable

if TYPE_CHECKING:
    from sy_connectors.link import ChargerLink

log = logging.getLogger(__name__)
EVENT_TYPE = "shadow_divergence"


@dataclass(frozen=True)
class ShadowCopy:
    call: Call
    primary_result: dict[str, Any] | None  # None: the primary answered with a CALLERROR
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
            self._publish(backend, call, differences)

    def _publish(self, backend: str, call: Call, differences: list[FieldDifference]) -> None:
        link = self._link
        metrics.SHADOW_DIVERGENCES.labels(backend, call.action).inc()
        event = {
            "type": EVENT_TYPE,
            "schema_version": 1,
            "ts_ns": time.time_ns(),
            "charger_id": link.charger_id,
            "ocpp": link.version.value,
            "primary": link.primary.backend.name,
            "shadow": backend,
            "action": call.action,
            "message_id": call.message_id,
            "differences": [
                {"path": d.path, "primary": d.primary, "shadow": d.shadow} for d in differences
            ],
        }
        paths = ", ".join(d.path for d in differences)
        log.info(
            "shadow %s diverges on %s: %s",
            backend,
            call.action,
            paths,
            extra={"charger_id": link.charger_id},
        )
        subject = subjects.events(EVENT_TYPE, link.charger_id)
        self._spawn(self._js_publish(subject, orjson.dumps(event, default=str)))

    async def _js_publish(self, subject: str, data: bytes) -> None:
        try:
            await self._js.publish(subject, data)
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
