"""Learning chargers' vendor, model and firmware from their BootNotification.

The connectors keep each charger's last BootNotification frame in the `sy-state` KV bucket, at a
key of its own (statuses live elsewhere, so they never wake this watcher). This watcher reads it
off the request path, and upserts what it says into `chargers`; when that moves the charger into
another group (a firmware update, a first boot), its route is republished as a new routing-table
version by author `boot`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from sy_bus import ChargerState, streams
from sy_calls import stop_task
from sy_platform import Runtime
from sy_routing.changes import RoutingTable
from sy_routing.models import Charger

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 10.0
_LIMIT = 64  # column width; OCPP allows at most 50 for any of these fields


@dataclass(frozen=True, slots=True)
class BootInfo:
    vendor: str | None
    model: str | None
    firmware: str | None


def boot_info(frame: str, ocpp: str) -> BootInfo | None:
    """What a BootNotification CALL frame says about the charger; None if it is not one."""
    try:
        message = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return None
    if not (isinstance(message, list) and len(message) == 4 and message[0] == 2):
        return None
    if message[2] != "BootNotification" or not isinstance(message[3], dict):
        return None
    payload = message[3]
    if ocpp.startswith("ocpp2") or "chargingStation" in payload:
        station = payload.get("chargingStation")
        if not isinstance(station, dict):
            return None
        vendor, model = station.get("vendorName"), station.get("model")
        firmware = station.get("firmwareVersion")
    else:
        vendor, model = payload.get("chargePointVendor"), payload.get("chargePointModel")
        firmware = payload.get("firmwareVersion")
    return BootInfo(_text(vendor), _text(model), _text(firmware))


def _text(value: object) -> str | None:
    return value[:_LIMIT] if isinstance(value, str) and value else None


class BootLearner:
    """Follows sy-state and keeps `chargers` up to date with what the chargers say at boot."""

    def __init__(self, rt: Runtime, routing_table: RoutingTable) -> None:
        self._rt = rt
        self._table = routing_table.by("boot")
        self._seen: dict[str, str] = {}  # charger id -> the boot frame already applied
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow_until_stopped(), name="boot-learner")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _follow_until_stopped(self) -> None:
        delay = 0.5
        while True:
            try:
                kv = await self._rt.js.key_value(streams.STATE.name)
                await self._follow(kv)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "reading %s failed (%s); retrying in %.1fs", streams.STATE.name, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)

    async def _follow(self, kv: KeyValue) -> None:
        watcher = await kv.watch(streams.STATE_BOOT_KEYS)
        try:
            async for entry in watcher:
                if entry is None or entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                    continue
                try:
                    state = ChargerState.from_bytes(entry.value)
                except Exception:
                    log.warning("ignoring unreadable %s entry %r", streams.STATE.name, entry.key)
                    continue
                await self.learn(state)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]

    async def learn(self, state: ChargerState) -> None:
        """Apply one charger's boot; a record already applied costs a dict lookup."""
        if state.boot is None or self._seen.get(state.charger_id) == state.boot:
            return
        info = boot_info(state.boot, state.ocpp)
        if info is None:
            log.warning("boot in %s is not a BootNotification CALL", streams.STATE.name,
                        extra={"charger_id": state.charger_id})  # fmt: skip
            self._seen[state.charger_id] = state.boot
            return
        booted = datetime.fromtimestamp(state.updated_ns / 1e9, UTC) if state.updated_ns else None
        learned = {"vendor": info.vendor, "model": info.model, "firmware": info.firmware,
                   "ocpp": state.ocpp or None}  # fmt: skip
        async with self._rt.sessions() as session:  # most boots change nothing: skip the lock
            known = await session.get(Charger, state.charger_id)
        if known is not None and {k: getattr(known, k) for k in learned} == learned:
            self._seen[state.charger_id] = state.boot
            return
        reason = f"{state.charger_id} booted as {info.vendor} {info.model} {info.firmware}"
        async with self._table.change(reason) as change:
            charger = await change.session.get(Charger, state.charger_id)
            if charger is None:
                charger = Charger(charger_id=state.charger_id, tags=[])
                change.session.add(charger)
                before = None
            else:
                before = {k: getattr(charger, k) for k in learned}
            if before != learned:
                for name, value in learned.items():
                    setattr(charger, name, value)
                charger.booted_at = booted
                detail = {"op": "charger.booted", "charger_id": state.charger_id,
                          "before": before, "after": learned}  # fmt: skip
                change.learn(detail, chargers=[state.charger_id])
        self._seen[state.charger_id] = state.boot
        if change.version:
            log.info("boot moved the charger's route at version %d", change.version,
                     extra={"charger_id": state.charger_id})  # fmt: skip
