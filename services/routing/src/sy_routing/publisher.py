"""Publishing the routing table to the sy-routes KV bucket, which the data plane watches.

The database is the truth; the bucket is a copy. Each change publishes its own keys right after
it commits; a full sync at start-up (and after any failed publish) rewrites every key and removes
keys the database no longer has, so a lost or stale bucket is rebuilt without operator action.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable

from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue
from prometheus_client import Gauge

from sy_bus import EffectiveRoute, streams
from sy_calls import stop_task
from sy_platform import Runtime
from sy_platform.runtime import provisions_itself
from sy_routing import table
from sy_routing.lock import TableLock
from sy_routing.table import Publication

log = logging.getLogger(__name__)

TABLE_VERSION = Gauge(
    "sy_routing_table_version", "Routing-table version last published to the sy-routes KV bucket"
)
MAX_RETRY_DELAY_S = 10.0
PARALLEL_WRITES = 256


class RoutePublisher:
    def __init__(self, rt: Runtime, lock: TableLock, kv: KeyValue) -> None:
        self._rt = rt
        self._lock = lock
        self._kv: KeyValue | None = kv
        self._synced = False
        self._pending = False
        self._last_error = "startup sync not finished"
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> None:
        """Readiness: the bucket holds the whole table (start-up sync done, no failed publish)."""
        if not self._synced:
            raise RuntimeError(self._last_error)

    def request_sync(self) -> None:
        """Schedule a full sync in the background, retried until it succeeds."""
        self._synced = False
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._sync_until_done(), name="routes-sync")

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def publish(self, publication: Publication) -> None:
        """Write one committed change's keys. The caller holds the table lock.

        The change is already committed, so a failure here is not the caller's error: it is
        logged, readiness fails, and a full sync repairs the bucket once NATS answers again.
        """
        try:
            kv = await self._bucket()
            await _write(kv, {k: r.to_bytes() for k, r in publication.puts.items()})
            await _delete(kv, publication.deletes)
        except Exception as exc:
            log.error(
                "routing-table version %d is saved but not published (%s); resyncing",
                publication.version,
                exc,
            )
            self._last_error = f"version {publication.version} not published: {exc}"
            self._kv = None
            self.request_sync()
            return
        TABLE_VERSION.set(publication.version)

    async def sync(self) -> None:
        """Make the bucket an exact copy of the database's routing table.

        The table is first re-resolved as a whole (which repairs `published_routes` after an
        upgrade or a policy fix), then only keys whose bytes differ are written: a restart
        rewrites nothing, so the data plane sees no spurious change.
        """
        async with self._lock.hold():
            kv = await self._bucket()
            current = await _contents(kv)
            async with self._rt.sessions() as session:
                diff = await table.pending(session, table.Scope(everything=True))
                if diff:
                    kept = {k: v for k, r in diff.puts.items() if (v := _kept(current.get(k), r))}
                    latest = await table.latest_version(session)
                    await table.apply(session, diff, latest, kept)
                    await session.commit()
                    log.info(
                        "re-resolved %d keys that differed from the published table",
                        len(diff.puts) + len(diff.deletes),
                    )
                wanted = await table.published(session)
                version = await table.latest_version(session)
            changed = {k: r.to_bytes() for k, r in wanted.items()}
            changed = {k: data for k, data in changed.items() if current.get(k) != data}
            await _write(kv, changed)
            written = len(changed)
            stale = current.keys() - wanted.keys()
            await _delete(kv, stale)
        TABLE_VERSION.set(version)
        log.info(
            "%s holds %d routes at version %d: rewrote %d, removed %d stale keys",
            streams.ROUTES.name,
            len(wanted),
            version,
            written,
            len(stale),
        )

    async def _sync_until_done(self) -> None:
        delay = 0.5
        while self._pending:
            self._pending = False
            try:
                await self.sync()
            except Exception as exc:
                self._pending = True
                self._last_error = f"sync to {streams.ROUTES.name} failing: {exc}"
                self._kv = None
                log.warning("%s; retrying in %.1fs", self._last_error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
        # No await between the loop's last check and here, so no request can slip in unsynced.
        self._synced = True

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            # After a failure the bucket may be gone altogether (deleted, new NATS cluster):
            # say so, and what to run (routing's user may not create it).
            try:
                self._kv = await self._rt.js.key_value(streams.ROUTES.name)
            except NotFoundError:
                if not provisions_itself(self._rt.settings):
                    await streams.verify(self._rt.js)
                    raise
                await streams.provision(self._rt.js)
                self._kv = await self._rt.js.key_value(streams.ROUTES.name)
        return self._kv


async def _write(kv: KeyValue, values: dict[str, bytes]) -> None:
    """Put many keys with up to PARALLEL_WRITES in flight: a 10,000-charger cutover is one
    change, and its keys are distinct, so their order does not matter (the table lock orders
    changes)."""
    items = list(values.items())
    for start in range(0, len(items), PARALLEL_WRITES):
        batch = items[start : start + PARALLEL_WRITES]
        await asyncio.gather(*(kv.put(key, data) for key, data in batch))


async def _delete(kv: KeyValue, keys: Iterable[str]) -> None:
    ordered = sorted(keys)
    for start in range(0, len(ordered), PARALLEL_WRITES):
        await asyncio.gather(*(kv.delete(k) for k in ordered[start : start + PARALLEL_WRITES]))


async def _contents(kv: KeyValue) -> dict[str, bytes]:
    """Every key in the bucket with its value, read in one pass."""
    watcher = await kv.watchall(ignore_deletes=True)
    found: dict[str, bytes] = {}
    try:
        async for entry in watcher:
            if entry is None:  # the initial values have all arrived
                break
            found[entry.key] = entry.value or b""
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]
    return found


def _kept(data: bytes | None, route: EffectiveRoute) -> int | None:
    """The version of the value already in the bucket, when it is this route (so a re-resolve
    after an upgrade keeps each key's version instead of rewriting it)."""
    if not data:
        return None
    try:
        there = EffectiveRoute.from_bytes(data)
    except Exception:
        return None
    return there.version if dataclasses.replace(there, version=route.version) == route else None
