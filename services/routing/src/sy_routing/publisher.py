"""Publishing the routing table to the sy-routes KV bucket, which the data plane watches.

The database is the truth; the bucket is a copy. Each change publishes its own keys right after
it commits; a full sync at start-up (and after any failed publish) rewrites every key and removes
keys the database no longer has, so a lost or stale bucket is rebuilt without operator action.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from prometheus_client import Gauge

from sy_bus import streams
from sy_calls import stop_task
from sy_platform import Runtime
from sy_routing import table
from sy_routing.lock import TableLock
from sy_routing.table import Publication

log = logging.getLogger(__name__)

TABLE_VERSION = Gauge(
    "sy_routing_table_version", "Routing-table version last published to the sy-routes KV bucket"
)
MAX_RETRY_DELAY_S = 10.0


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
            for key, route in publication.puts.items():
                await kv.put(key, route.to_bytes())
            for key in publication.deletes:
                await kv.delete(key)
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
        """Make the bucket an exact copy of the database's routing table."""
        async with self._lock.hold():
            async with self._rt.sessions() as session:
                publication = await table.whole_table(session)
            kv = await self._bucket()
            stale = await _keys(kv) - publication.puts.keys()
            for key, route in publication.puts.items():
                await kv.put(key, route.to_bytes())
            for key in sorted(stale):
                await kv.delete(key)
        TABLE_VERSION.set(publication.version)
        log.info(
            "published %d routes at version %d to %s, removed %d stale keys",
            len(publication.puts),
            publication.version,
            streams.ROUTES.name,
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
            # After a failure the bucket may be gone altogether (deleted, new NATS cluster).
            await streams.ensure_streams(self._rt.js)
            self._kv = await self._rt.js.key_value(streams.ROUTES.name)
        return self._kv


async def _keys(kv: KeyValue) -> set[str]:
    try:
        return set(await kv.keys())
    except NoKeysError:
        return set()
