"""Changing the routing table: one transaction, one version row, then publication.

Every mutating API call goes through `RoutingTable.change()`, so no change can skip its version
row or its KV publication, and every change is serialised by the table lock.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sy_platform.audit import note
from sy_routing import table
from sy_routing.lock import TableLock
from sy_routing.models import RoutingVersion
from sy_routing.publisher import RoutePublisher


@dataclass
class Change:
    """What a caller did inside `RoutingTable.change()`; filled in by `record()`."""

    session: AsyncSession
    detail: dict[str, Any] | None = None
    chargers: set[str] = field(default_factory=set)
    default: bool = False
    version: int = 0

    def record(
        self, detail: dict[str, Any], *, chargers: Iterable[str] = (), default: bool = False
    ) -> None:
        """Say what changed and whose KV keys it affects. Without a record, nothing is saved."""
        self.detail = detail
        self.chargers.update(chargers)
        self.default = self.default or default


class RoutingTable:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        lock: TableLock,
        publisher: RoutePublisher,
        author: str = "api",
    ) -> None:
        self._sessions = sessions
        self._lock = lock
        self._publisher = publisher
        self._author = author
        self._request: Request | None = None

    def bound(self, request: Request) -> RoutingTable:
        """This table for one API call: changes carry its caller as author and are audited."""
        principal = getattr(request.state, "principal", None)
        table_for_call = copy.copy(self)
        table_for_call._author = principal.name if principal else self._author
        table_for_call._request = request
        return table_for_call

    @asynccontextmanager
    async def change(self, reason: str) -> AsyncIterator[Change]:
        """Yield a session for one change; commit it as a new version and publish its keys.

        An exception inside the block rolls everything back, version row included.
        """
        async with self._lock.hold(), self._sessions() as session:
            change = Change(session)
            yield change
            if change.detail is None:
                return  # nothing changed: no version, nothing to publish
            row = RoutingVersion(author=self._author, reason=reason, change=change.detail)
            session.add(row)
            await session.flush()
            change.version = row.id
            publication = await table.publication_for(
                session, row.id, change.chargers, change.default
            )
            await session.commit()
            await self._publisher.publish(publication)
            if self._request is not None:
                _audit(self._request, change.detail, reason)


def _audit(request: Request, detail: dict[str, Any], reason: str) -> None:
    op = str(detail.get("op", "change"))
    subject = detail.get("charger_id") or detail.get("backend") or op.split(".")[0]
    note(
        request,
        f"{op.split('.')[0]}/{subject}",
        action=op,
        before=detail.get("before"),
        after=detail.get("after", {k: v for k, v in detail.items() if k not in ("op", "before")}),
        reason=reason,
    )
