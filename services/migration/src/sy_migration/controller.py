"""The wave controller: one replica at a time drives every active wave, tick by tick.

Leadership is a Postgres session-level advisory lock held on a dedicated connection: the replica
that holds it drives the waves; the others retry every few seconds and take over within one
retry when the leader's connection goes away (a crash releases the lock with the session).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from sy_migration.lifecycle import ACTIVE, Phase, Refused
from sy_migration.models import Wave
from sy_migration.operations import Operations, Outcome, spec_of
from sy_migration.transitions import CONTROLLER, announce
from sy_platform import Runtime

log = logging.getLogger(__name__)
LOCK_KEY = "sy-migration-wave-controller"
RETRY_LEADERSHIP_S = 3.0


class Controller:
    def __init__(self, rt: Runtime, operations: Operations, interval_s: float) -> None:
        self.rt, self.ops, self.interval_s = rt, operations, interval_s
        self.leader = False
        self._due: dict[str, datetime] = {}

    async def run(self) -> None:
        while True:
            try:
                async with self._leadership() as conn:
                    self.leader = True
                    log.info("this replica drives the waves")
                    while True:
                        await conn.execute(text("SELECT 1"))  # the lock lives with this session
                        await self.tick()
                        await asyncio.sleep(self.interval_s)
            except asyncio.CancelledError:
                raise
            except _NotLeader:
                pass
            except Exception:  # a lost database: leadership is gone, try again
                log.exception("wave controller stopped; retrying")
            self.leader = False
            await asyncio.sleep(RETRY_LEADERSHIP_S)

    @asynccontextmanager
    async def _leadership(self) -> AsyncIterator[AsyncConnection]:
        async with self.rt.engine.connect() as conn:
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": LOCK_KEY}
            )
            await conn.commit()
            if not got:
                raise _NotLeader
            try:
                yield conn
            finally:
                with suppress(Exception):
                    await conn.execute(
                        text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": LOCK_KEY}
                    )
                    await conn.commit()

    async def tick(self) -> None:
        async with self.rt.sessions() as session:
            waves = (
                await session.scalars(
                    select(Wave)
                    .where(Wave.phase.in_([p.value for p in ACTIVE]))
                    .order_by(Wave.created_at)
                )
            ).all()
        for wave in waves:
            try:
                await self._drive(wave)
            except Exception as exc:
                log.warning("wave %s: %s", wave.name, exc, exc_info=not isinstance(exc, Refused))
                await self._say(wave.name, f"controller: {exc}")

    def _due_now(self, wave: Wave) -> bool:
        now = datetime.now(UTC)
        due = self._due.get(wave.name)
        if due is not None and now < due:
            return False
        self._due[wave.name] = now + spec_of(wave).interval
        return True

    async def _drive(self, wave: Wave) -> None:
        phase = Phase(wave.phase)
        spec = spec_of(wave)
        if phase in (Phase.DRAFT, Phase.READY):
            if self._due_now(wave):
                await self._announce(await self.ops.preflight(wave.name))
            async with self.rt.sessions() as session:
                fresh = await session.get(Wave, wave.id)
            if fresh is not None and fresh.phase == Phase.READY and spec.auto_start:
                async with self.rt.sessions() as session:
                    waiting = await self.ops.blockers(session, fresh)
                if not waiting:
                    await self._announce(
                        await self.ops.start(
                            wave.name, actor=CONTROLLER, reason="autoStart: pre-flight passed"
                        )
                    )
            return
        if phase is Phase.CUTTING_OVER:
            await self._announce(await self.ops.cutover_step(wave.name))
        if self._due_now(wave):
            await self._announce(await self.ops.watch(wave.name))

    async def _announce(self, outcome: Outcome) -> None:
        if outcome.announcement is not None:
            self._due.pop(outcome.announcement.wave, None)
            await announce(self.rt.js, outcome.announcement, audited=False)

    async def _say(self, name: str, message: str) -> None:
        with suppress(Exception):
            async with self.rt.sessions() as session, session.begin():
                wave = await session.scalar(select(Wave).where(Wave.name == name))
                if wave is not None:
                    wave.message = message[:2000]


class _NotLeader(Exception):
    pass
