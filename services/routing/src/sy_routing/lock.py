"""One writer at a time for the routing table, from the change to its publication.

A change is published to the KV bucket after its transaction commits. If two changes could
interleave, the later commit might be published first and then overwritten by the earlier one,
leaving the data plane on a stale route. Holding this lock from before the change until after
its publication keeps KV writes in commit order, within a replica and across replicas.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Distinct from the key Alembic's env takes (hashtext of the schema name) while migrating.
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('sy-routing.table'))")


class TableLock:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Local waiters queue here rather than each holding a pooled connection while they wait.
        self._local = asyncio.Lock()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        async with self._local, self._engine.connect() as conn:
            # Transaction-scoped on a connection of its own: however this task ends, the
            # connection's rollback (on return to the pool, or its death) releases the lock.
            await conn.execute(_ADVISORY_LOCK)
            yield
