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
from sy_routing import snapshots, table
from sy_routing.lock import TableLock
from sy_routing.models import RoutingVersion
from sy_routing.publisher import RoutePublisher
from sy_routing.table import Scope

# At most this many charger ids are named in a version's `moved` list.
MOVED_SHOWN = 100


@dataclass
class Change:
    """What a caller did inside `RoutingTable.change()`; filled in by `record()` or `learn()`."""

    session: AsyncSession
    detail: dict[str, Any] | None = None
    scope: Scope = field(default_factory=Scope)
    learned: bool = False
    version: int = 0
    moved: list[str] = field(default_factory=list)  # chargers whose published route changed

    @property
    def chargers(self) -> set[str]:
        return self.scope.chargers

    @property
    def default(self) -> bool:
        return self.scope.default

    def record(
        self,
        detail: dict[str, Any],
        *,
        chargers: Iterable[str] = (),
        default: bool = False,
        everything: bool = False,
    ) -> None:
        """A change to the routing table: saved as a new version, whose KV keys it may affect.

        Without a record (or `learn`), nothing is saved.
        """
        self.detail = detail
        self.scope.chargers.update(chargers)
        self.scope.default = self.scope.default or default
        self.scope.everything = self.scope.everything or everything

    def learn(self, detail: dict[str, Any], *, chargers: Iterable[str]) -> None:
        """A change to what routing knows of chargers (attributes), not to the table itself:
        saved, and a new version only if it moves a charger to another route."""
        self.record(detail, chargers=chargers)
        self.learned = True


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

    def by(self, author: str) -> RoutingTable:
        """This table for changes the service makes itself (`boot`: learned attributes)."""
        table_for_author = copy.copy(self)
        table_for_author._author = author
        return table_for_author

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
            await session.flush()
            diff = await table.pending(session, change.scope)
            change.moved = diff.chargers()
            if change.learned and not diff:
                await session.commit()  # attributes saved; every charger keeps its route
                self._audit(change.detail, reason)
                return
            detail = change.detail
            if change.learned:
                detail = {**detail, "moved": change.moved[:MOVED_SHOWN]}
            row = RoutingVersion(
                author=self._author,
                reason=reason,
                change=detail,
                snapshot=await snapshots.take(session),
            )
            session.add(row)
            await session.flush()
            change.version = row.id
            publication = await table.apply(session, diff, row.id)
            await session.commit()
            await self._publisher.publish(publication)
            self._audit(detail, reason)

    def _audit(self, detail: dict[str, Any], reason: str) -> None:
        if self._request is None:
            return
        op = str(detail.get("op", "change"))
        subject = (
            detail.get("charger_id")
            or detail.get("group")
            or detail.get("backend")
            or op.split(".")[0]
        )
        note(
            self._request,
            f"{op.split('.')[0]}/{subject}",
            action=op,
            before=detail.get("before"),
            after=detail.get(
                "after", {k: v for k, v in detail.items() if k not in ("op", "before")}
            ),
            reason=reason,
        )
