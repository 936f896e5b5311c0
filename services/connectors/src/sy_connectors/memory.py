"""What the connectors remember per charger across restarts and replicas, in NATS KV:
its last boot and connector statuses (`sy-state`, replayed to a new primary on cutover) and its
open transactions (`sy-transactions`, so pinning and id mapping survive a restart).

A boot is written at the charger's boot key with the whole state, a status at its status key with
the statuses only (`sy_bus.streams.state_boot_key`): routing watches the boots alone, and the
frequent status writes never wake it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import orjson
from nats.js.kv import KeyValue

from sy_bus import ChargerState, streams, subjects
from sy_codec import Call, OcppVersion, decode, encode
from sy_connectors.transactions import Transaction

log = logging.getLogger(__name__)
_replay_ids = itertools.count(1)


def status_key(call: Call, version: OcppVersion) -> str:
    if version is OcppVersion.V16:
        return f"0/{call.payload.get('connectorId', 0)}"
    return f"{call.payload.get('evseId', 0)}/{call.payload.get('connectorId', 0)}"


class ChargerMemory:
    def __init__(
        self, charger_id: str, version: OcppVersion, state_kv: KeyValue, tx_kv: KeyValue
    ) -> None:
        self.charger_id = charger_id
        self.version = version
        self._state_kv = state_kv
        self._tx_kv = tx_kv
        self._key = subjects.charger_token(charger_id)
        self._boot_key = streams.state_boot_key(charger_id)
        self._status_key = streams.state_status_key(charger_id)
        self.state = ChargerState(charger_id, version.value)
        self._writes: set[asyncio.Task[None]] = set()
        self._write_order = asyncio.Lock()  # FIFO: the last write of a key is the newest value

    async def load(self) -> dict[str, Transaction]:
        """The charger's state and open transactions as last written by any replica."""
        boot = await _get(self._state_kv, self._boot_key)
        if boot is not None:
            self.state = ChargerState.from_bytes(boot)
        statuses = await _get(self._state_kv, self._status_key)
        if statuses is not None:  # the later record has the latest statuses
            latest = ChargerState.from_bytes(statuses)
            if latest.updated_ns >= self.state.updated_ns:
                self.state.statuses = latest.statuses
        stored = await _get(self._tx_kv, self._key)
        if stored is None:
            return {}
        return {k: Transaction(**v) for k, v in orjson.loads(stored).items()}

    def observe(self, call: Call, text: str) -> None:
        """Keep the boot and latest status frames (the exact text the charger sent)."""
        if call.action == "BootNotification":
            self.state.boot = text
            self.state.updated_ns = time.time_ns()
            self._write(self._state_kv, self._boot_key, self.state.to_bytes())
        elif call.action == "StatusNotification":
            self.state.statuses[status_key(call, self.version)] = text
            self.state.updated_ns = now = time.time_ns()
            record = ChargerState(self.charger_id, self.state.ocpp, None, self.state.statuses, now)
            self._write(self._state_kv, self._status_key, record.to_bytes())

    def save_transactions(self, open_transactions: dict[str, Transaction]) -> None:
        doc = {k: orjson.loads(tx.to_bytes()) for k, tx in open_transactions.items()}
        self._write(self._tx_kv, self._key, orjson.dumps(doc))

    def replay(self, statuses_only: bool = False) -> list[tuple[str, str]]:
        """(message id, frame) for a new primary: the boot, then each connector's status, each
        with a fresh gateway message id so they never collide with the charger's own."""
        frames = [self.state.boot] if self.state.boot and not statuses_only else []
        frames += [self.state.statuses[k] for k in sorted(self.state.statuses)]
        out = []
        for frame in frames:
            call = decode(frame, self.version)
            if isinstance(call, Call):
                message_id = f"sy-replay-{next(_replay_ids)}"
                out.append((message_id, encode(Call(message_id, call.action, call.payload))))
        return out

    def _write(self, kv: KeyValue, key: str, value: bytes) -> None:
        task = asyncio.ensure_future(self._put_in_order(kv, key, value))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _put_in_order(self, kv: KeyValue, key: str, value: bytes) -> None:
        async with self._write_order:
            await _put(kv, key, value, self.charger_id)

    async def flush(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)


async def _get(kv: KeyValue, key: str) -> bytes | None:
    try:
        entry = await kv.get(key)
    except Exception:  # no such key yet
        return None
    value: Any = entry.value
    return bytes(value) if value else None


async def _put(kv: KeyValue, key: str, value: bytes, charger_id: str) -> None:
    try:
        await kv.put(key, value)
    except Exception as exc:
        log.warning("could not save charger memory: %r", exc, extra={"charger_id": charger_id})
