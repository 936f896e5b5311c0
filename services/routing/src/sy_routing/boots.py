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
from sqlalchemy import select

from sy_bus import ChargerState, streams
from sy_calls import stop_task
from sy_platform import Runtime
from sy_routing.changes import RoutingTable
from sy_routing.models import Charger

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 10.0
BATCH_WINDOW_S = 0.05
BATCH_MAX = 500
DETAILS_SHOWN = 50  # per-charger before/after kept in a batch's version and audit record
LEARNED = ("vendor", "model", "firmware", "ocpp")
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
            while True:
                try:
                    batch = await _next_batch(watcher)
                except StopAsyncIteration:
                    return
                states = []
                for entry in batch:
                    if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                        continue
                    try:
                        states.append(ChargerState.from_bytes(entry.value))
                    except Exception:
                        log.warning(
                            "ignoring unreadable %s entry %r", streams.STATE.name, entry.key
                        )
                await self.learn_many(states)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]

    async def learn(self, state: ChargerState) -> None:
        """Apply one charger's boot."""
        await self.learn_many([state])

    async def learn_many(self, states: list[ChargerState]) -> None:
        """Apply a batch of boots (a reconnect storm brings thousands): one read of what routing
        knows of them, and one change for those whose vendor, model, firmware or OCPP version
        is new. A record already applied costs a dict lookup."""
        fresh: dict[str, tuple[ChargerState, dict[str, str | None]]] = {}
        for state in states:
            if state.boot is None or self._seen.get(state.charger_id) == state.boot:
                continue
            info = boot_info(state.boot, state.ocpp)
            if info is None:
                log.warning("boot in %s is not a BootNotification CALL", streams.STATE.name,
                            extra={"charger_id": state.charger_id})  # fmt: skip
                self._seen[state.charger_id] = state.boot
                continue
            learned = {"vendor": info.vendor, "model": info.model, "firmware": info.firmware,
                       "ocpp": state.ocpp or None}  # fmt: skip
            fresh[state.charger_id] = (state, learned)  # the latest boot of a charger wins
        if not fresh:
            return
        async with self._rt.sessions() as session:  # most boots change nothing: skip the lock
            rows = await session.scalars(select(Charger).where(Charger.charger_id.in_(fresh)))
            known = {c.charger_id: {k: getattr(c, k) for k in LEARNED} for c in rows}
        changed = {cid: v for cid, v in fresh.items() if known.get(cid) != v[1]}
        for cid, (state, _) in fresh.items():
            if cid not in changed:
                self._seen[cid] = state.boot or ""
        if changed:
            await self._apply(changed)

    async def _apply(self, changed: dict[str, tuple[ChargerState, dict[str, str | None]]]) -> None:
        if len(changed) == 1:
            [(cid, (_, learned))] = changed.items()
            reason = f"{cid} booted as {learned['vendor']} {learned['model']} {learned['firmware']}"
        else:
            reason = f"{len(changed)} chargers booted with new vendor, model or firmware"
        async with self._table.change(reason) as change:
            rows = await change.session.scalars(
                select(Charger).where(Charger.charger_id.in_(changed))
            )
            chargers = {c.charger_id: c for c in rows}
            details = []
            for cid, (state, learned) in changed.items():
                charger = chargers.get(cid)
                if charger is None:
                    charger = Charger(charger_id=cid, tags=[])
                    change.session.add(charger)
                    before = None
                else:
                    before = {k: getattr(charger, k) for k in LEARNED}
                if before == learned:
                    continue
                for name, value in learned.items():
                    setattr(charger, name, value)
                if state.updated_ns:
                    charger.booted_at = datetime.fromtimestamp(state.updated_ns / 1e9, UTC)
                details.append({"charger_id": cid, "before": before, "after": learned})
            if len(details) == 1:
                change.learn({"op": "charger.booted", **details[0]}, chargers=changed)
            elif details:
                shown = details[:DETAILS_SHOWN]
                change.learn(
                    {"op": "charger.booted", "count": len(details), "chargers": shown},
                    chargers=changed,
                )
        for cid, (state, _) in changed.items():
            self._seen[cid] = state.boot or ""
        if change.version:
            log.info("boots moved %d charger(s) to another route at version %d",
                     len(change.moved), change.version)  # fmt: skip


async def _next_batch(watcher: KeyValue.KeyWatcher) -> list[KeyValue.Entry]:
    """The next update, plus every further one that arrives within BATCH_WINDOW_S (at most
    BATCH_MAX): one database round trip for a storm of boots instead of one per charger."""
    batch: list[KeyValue.Entry] = []
    while not batch:
        first = await anext(watcher)  # StopAsyncIteration when the watcher is stopped
        if first is not None:  # None marks the end of the initial values
            batch.append(first)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + BATCH_WINDOW_S
    while len(batch) < BATCH_MAX:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            entry = await watcher.updates(timeout=remaining)  # type: ignore[no-untyped-call]
        except TimeoutError:
            break
        if isinstance(entry, KeyValue.Entry):  # not the initial-values marker nor a stop
            batch.append(entry)
    return batch
