"""The effective routing table, mirrored from the `sy-routes` KV bucket that routing publishes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from sy_bus import EffectiveRoute, streams, subjects
from sy_calls import stop_task

log = logging.getLogger(__name__)

_CHARGER_PREFIX = streams.route_key("x")[: -len("x")]

# Called with the charger id whose route changed, or None when the default changed.
RouteChanged = Callable[[str | None], None]


class RouteTable:
    def __init__(self, kv: KeyValue, on_change: RouteChanged) -> None:
        self._kv = kv
        self._on_change = on_change
        self._chargers: dict[str, EffectiveRoute] = {}
        self._default: EffectiveRoute | None = None
        self._loaded = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def resolve(self, charger_id: str) -> EffectiveRoute | None:
        return self._chargers.get(charger_id, self._default)

    @property
    def loaded(self) -> bool:
        return self._loaded.is_set()

    async def start(self, timeout_s: float = 10.0) -> None:
        watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._follow(watcher), name="route-table")
        await asyncio.wait_for(self._loaded.wait(), timeout_s)

    async def stop(self) -> None:
        await stop_task(self._task)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # initial values delivered
                self._loaded.set()
                continue
            try:
                self._apply(entry)
            except Exception:
                log.exception("ignoring unreadable route entry %r", entry.key)

    def _apply(self, entry: KeyValue.Entry) -> None:
        deleted = entry.operation in (KV_DEL, KV_PURGE)
        route = None if deleted or not entry.value else EffectiveRoute.from_bytes(entry.value)
        if entry.key == streams.DEFAULT_ROUTE_KEY:
            self._default = route
            changed: str | None = None
        elif entry.key.startswith(_CHARGER_PREFIX):
            changed = subjects.charger_id_from_token(entry.key[len(_CHARGER_PREFIX) :])
            if route is None:
                self._chargers.pop(changed, None)
            else:
                self._chargers[changed] = route
        else:
            return
        if self._loaded.is_set():
            self._on_change(changed)
