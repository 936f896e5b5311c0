"""What a wave does to the world: pre-flight, cutover batches, gate evaluation, rollback,
sign-off. Used by the controller (on its ticks) and by the API (operator commands).

Every change runs in one database transaction holding the wave's row lock (`SELECT ... FOR
UPDATE`), so an operator's rollback and a controller tick never act on the same wave at once, on
one replica or several. Data is gathered before the lock is taken; the phase is re-checked under it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_events import WaveRollback
from sy_migration import cutover, divergence, gates, preflight, selection
from sy_migration.clients import PAGE, Services, Unavailable
from sy_migration.lifecycle import Phase, PlanMember, Refused, Trigger, blocking, next_phase
from sy_migration.models import Plan, Wave
from sy_migration.spec import WaveSpec, duration
from sy_migration.transitions import CONTROLLER, Announcement, move
from sy_platform import Runtime

log = logging.getLogger(__name__)
HOLDING = (Phase.READY, Phase.CUTTING_OVER, Phase.OBSERVING, Phase.PASSED)


def spec_of(wave: Wave) -> WaveSpec:
    return WaveSpec.model_validate(wave.spec)


def group_name(wave: Wave) -> str:
    return f"wave-{wave.name}"[:64]


async def locked(session: AsyncSession, name: str) -> Wave | None:
    found: Wave | None = await session.scalar(
        select(Wave).where(Wave.name == name).with_for_update()
    )
    return found


async def plan_name(session: AsyncSession, wave: Wave) -> str | None:
    if wave.plan_id is None:
        return None
    plan = await session.get(Plan, wave.plan_id)
    return plan.name if plan else None


@dataclass
class Outcome:
    """What an operation did: the transition to announce (if any)."""

    announcement: Announcement | None = None


class Operations:
    def __init__(self, rt: Runtime, services: Services) -> None:
        self.rt, self.services = rt, services

    # -- pre-flight ---------------------------------------------------------------------------

    async def observe(self, wave: Wave, spec: WaveSpec) -> preflight.Observed:
        now = datetime.now(UTC)
        since = now - duration(spec.preflight.lookback)
        fleet = await self.services.fleet()
        groups: dict[str, list[str]] = {}
        for name in spec.selector.groups:
            found = await self.services.group(name)
            groups[name] = list((found or {}).get("members") or [])
        members = selection.members(spec.selector, fleet, groups)
        boots_seen, truncated = await self.boots_seen(since, set(members))
        upstreams = {
            link["charger_id"]: {u["backend"]: u for u in link["upstreams"]}
            for link in await self.services.links()
        }
        found_divergences = await divergence.count(
            self.rt.js, spec.target_backend, set(members), since, now
        )
        async with self.rt.sessions() as session:
            others = (
                await session.scalars(
                    select(Wave).where(
                        Wave.name != wave.name, Wave.phase.in_([p.value for p in HOLDING])
                    )
                )
            ).all()
        taken = {c: o.name for o in others for c in o.members}
        return preflight.Observed(
            members=members,
            known={c["charger_id"] for c in fleet},
            backends=await self.services.backends(),
            boots_seen=boots_seen,
            upstreams=upstreams,
            divergences=found_divergences,
            taken=taken,
            boots_truncated=truncated,
        )

    async def boots_seen(
        self, since: datetime, chargers: set[str], pages: int = 20
    ) -> tuple[dict[str, set[str]], bool]:
        """Charger -> backends that were sent its BootNotification since `since`. Backend hops
        carry no action column in the journal, so the CALL frames are read (page by page)."""
        seen: dict[str, set[str]] = {}
        for _ in range(pages):
            frames = await self.services.frames(since, direction="to_backend")
            for frame in frames:
                raw = frame.get("raw") or ""
                if (
                    frame.get("backend")
                    and frame["charger_id"] in chargers
                    and raw.startswith("[2,")
                    and '"BootNotification"' in raw[:80]
                ):
                    seen.setdefault(frame["charger_id"], set()).add(frame["backend"])
            if len(frames) < PAGE:
                return seen, False
            since = datetime.fromisoformat(frames[-1]["ts"].replace("Z", "+00:00"))
        return seen, True

    async def preflight(self, name: str) -> Outcome:
        """Draft or Ready: recompute the chargers and the checks; Draft <-> Ready."""
        async with self.rt.sessions() as session:
            wave = await session.scalar(select(Wave).where(Wave.name == name))
        if wave is None or Phase(wave.phase) not in (Phase.DRAFT, Phase.READY):
            return Outcome()
        spec = spec_of(wave)
        seen = await self.observe(wave, spec)
        found = preflight.checks(spec, seen)
        passed = preflight.ready(found)
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None or Phase(wave.phase) not in (Phase.DRAFT, Phase.READY):
                return Outcome()
            wave.members = seen.members
            wave.preflight = [c.doc() for c in found]
            wave.evaluated_at = datetime.now(UTC)
            wave.message = preflight.summary(found)
            done = None
            trigger = (
                Trigger.PREFLIGHT_PASSED
                if passed and wave.phase == Phase.DRAFT
                else Trigger.PREFLIGHT_FAILED
                if not passed and wave.phase == Phase.READY
                else None
            )
            if trigger is not None:
                done = await move(
                    session,
                    wave,
                    trigger,
                    actor=CONTROLLER,
                    reason=wave.message,
                    plan=await plan_name(session, wave),
                    detail={"checks": wave.preflight},
                )
        return Outcome(done)

    # -- start and cutover --------------------------------------------------------------------

    async def blockers(self, session: AsyncSession, wave: Wave) -> list[str]:
        if wave.plan_id is None:
            return []
        rows = (await session.scalars(select(Wave).where(Wave.plan_id == wave.plan_id))).all()
        members = [
            PlanMember(w.name, spec_of(w).order, spec_of(w).pilot, Phase(w.phase)) for w in rows
        ]
        me = PlanMember(wave.name, spec_of(wave).order, spec_of(wave).pilot, Phase(wave.phase))
        return blocking(me, members)

    async def _priority(self, group: str) -> int | None:
        """Below every other group route, so the wave's route wins over the shadow run's."""
        table = await self.services.routes()
        mine = [g for g in table.get("groups", []) if g.get("group") == group]
        if mine:
            return None  # keeps its priority
        others = [int(g["priority"]) for g in table.get("groups", []) if g.get("priority")]
        if not others:
            return None
        if min(others) <= 1:
            raise Unavailable(
                "no group-route priority is left below the existing ones (the lowest is 1); "
                "renumber a group route in routing so the wave's route can take precedence"
            )
        return min(others) - 1

    async def start(self, name: str, *, actor: str, reason: str) -> Outcome:
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None:
                raise LookupError(name)
            next_phase(Phase(wave.phase), Trigger.START)  # refuses before routing is touched
            waiting = await self.blockers(session, wave)
            if waiting:
                raise Refused(
                    "the plan's earlier waves must be signed off first: " + ", ".join(waiting)
                )
            spec = spec_of(wave)
            group = group_name(wave)
            wave.routing_version_before = int((await self.services.routes()).get("version") or 0)
            await self.services.put_group(
                group,
                [],
                f"migration wave {wave.name}: chargers cut over so far",
                f"wave {wave.name}: cutover starts ({reason})",
            )
            shadows = [spec.rollback_backend] if spec.rollback_backend else []
            await self.services.route_group(
                group,
                spec.target_backend,
                shadows,
                f"wave {wave.name}: route to {spec.target_backend}",
                await self._priority(group),
            )
            now = datetime.now(UTC)
            wave.routing_group, wave.moved, wave.waiting = group, [], []
            wave.cutover_started_at, wave.last_batch_at = now, None
            wave.observing_since, wave.gates, wave.health = None, {}, "Unknown"
            wave.message = f"cutting over {len(wave.members)} chargers to {spec.target_backend}"
            done = await move(
                session,
                wave,
                Trigger.START,
                actor=actor,
                reason=reason,
                plan=await plan_name(session, wave),
                detail={"routing_version_before": wave.routing_version_before},
            )
        return Outcome(done)

    async def cutover_step(self, name: str) -> Outcome:
        """Move the next batch: at the wave's rate, skipping chargers with an open transaction."""
        links = await self.services.links()
        busy = {
            link["charger_id"]
            for link in links
            if any(u.get("open_transactions") for u in link["upstreams"])
        }
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None or Phase(wave.phase) is not Phase.CUTTING_OVER:
                return Outcome()
            spec = spec_of(wave)
            now = datetime.now(UTC)
            moved = set(wave.moved)
            pending = [c for c in wave.members if c not in moved]
            if not pending:
                wave.observing_since = now
                wave.waiting = []
                wave.message = (
                    f"all {len(wave.members)} chargers on {spec.target_backend}; observing for "
                    f"{spec.observation_window}"
                )
                done = await move(
                    session,
                    wave,
                    Trigger.ALL_CUT_OVER,
                    actor=CONTROLLER,
                    reason=wave.message,
                    plan=await plan_name(session, wave),
                )
                return Outcome(done)
            last = wave.last_batch_at or (now - timedelta(seconds=1 / spec.cutover_rate.per_second))
            budget = cutover.allowance(
                spec.cutover_rate.per_second,
                (now - last).total_seconds(),
                spec.cutover_rate.max_in_flight,
            )
            batch = cutover.next_batch(pending, busy, budget)
            wave.waiting = batch.busy
            if batch.move:
                wave.moved = [*wave.moved, *batch.move]
                wave.last_batch_at = now
                await self.services.put_group(
                    wave.routing_group or group_name(wave),
                    sorted(wave.moved),
                    f"migration wave {wave.name}: chargers cut over so far",
                    f"wave {wave.name}: {len(batch.move)} more chargers to "
                    f"{spec.target_backend} "
                    f"({cutover.progress(len(wave.moved), len(wave.members))})",
                )
            wave.message = f"cut over {cutover.progress(len(wave.moved), len(wave.members))}" + (
                f"; waiting for {len(batch.busy)} chargers to end their transactions"
                if batch.busy
                else ""
            )
        return Outcome()

    # -- gates --------------------------------------------------------------------------------

    async def measure(self, wave: Wave, spec: WaveSpec) -> gates.GateReport:
        now = datetime.now(UTC)
        since = wave.cutover_started_at or now
        chargers = list(wave.moved) or list(wave.members)
        health = await self.services.health(chargers, since, now)
        found = await divergence.count(self.rt.js, spec.target_backend, set(chargers), since, now)
        connected = {link["charger_id"] for link in await self.services.links()}
        unmeasured = (
            gates.CONNECTION_GATES
            if gates.connection_data_missing(health, connected)
            else frozenset()
        )
        return gates.evaluate(spec.success_criteria, health, found, unmeasured)

    async def watch(self, name: str) -> Outcome:
        """CuttingOver or Observing: judge the gates; roll back on a breach (if the wave says
        so); pass once the observation window held."""
        async with self.rt.sessions() as session:
            wave = await session.scalar(select(Wave).where(Wave.name == name))
        if wave is None or Phase(wave.phase) not in (Phase.CUTTING_OVER, Phase.OBSERVING):
            return Outcome()
        spec = spec_of(wave)
        report = await self.measure(wave, spec)
        breach = report.breaches
        if breach and spec.auto_rollback:
            return await self.rollback(
                name,
                actor=CONTROLLER,
                reason=f"gate breached: {report.summary()}",
                trigger=Trigger.BREACH,
                report=report,
            )
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None or Phase(wave.phase) not in (Phase.CUTTING_OVER, Phase.OBSERVING):
                return Outcome()
            wave.gates, wave.health = report.doc(), report.health
            wave.evaluated_at = datetime.now(UTC)
            if Phase(wave.phase) is Phase.CUTTING_OVER:
                return Outcome()
            wave.message = report.summary()
            held = wave.observing_since is not None and (
                datetime.now(UTC) - wave.observing_since >= spec.window
            )
            if held and not breach:
                done = await move(
                    session,
                    wave,
                    Trigger.WINDOW_HELD,
                    actor=CONTROLLER,
                    reason=f"observation window {spec.observation_window} held: {report.summary()}",
                    plan=await plan_name(session, wave),
                    detail=report.doc(),
                    report=report,
                )
                return Outcome(done)
        return Outcome()

    # -- rollback, sign-off, retry ------------------------------------------------------------

    async def rollback(
        self,
        name: str,
        *,
        actor: str,
        reason: str,
        trigger: Trigger = Trigger.ROLLBACK,
        report: gates.GateReport | None = None,
    ) -> Outcome:
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None:
                raise LookupError(name)
            spec = spec_of(wave)
            phase = Phase(wave.phase)
            next_phase(phase, trigger)  # refuses before routing is touched
            why = f"wave {wave.name} rolled back by {actor}: {reason}"
            detail: dict[str, Any] = {"moved": len(wave.moved)}
            restored_version: int | None = None
            if spec.rollback_backend:
                await self.services.route_group(
                    wave.routing_group or group_name(wave), spec.rollback_backend, [], why, None
                )
                detail["routed_to"] = spec.rollback_backend
            else:
                restored_version = spec.rollback_version or wave.routing_version_before
                if not restored_version:
                    raise Refused("no routing version was recorded before the cutover")
                restored = await self.services.restore(restored_version, why)
                detail["restored_version"] = restored_version
                detail["moved_back"] = len(restored.get("moved", []))
            wave.routing_version_rollback = int((await self.services.routes()).get("version") or 0)
            detail["routing_version"] = wave.routing_version_rollback
            if report is not None:
                wave.gates, wave.health = report.doc(), report.health
                detail["gates"] = report.doc()
            wave.waiting = []
            wave.message = f"rolled back: {reason}"
            done = await move(
                session,
                wave,
                trigger,
                actor=actor,
                reason=reason,
                plan=await plan_name(session, wave),
                detail=detail,
                report=report,
                rollback=WaveRollback(
                    target=spec.rollback_target,
                    backend=spec.rollback_backend,
                    restored_version=restored_version,
                    routing_version=wave.routing_version_rollback,
                    chargers=len(wave.moved),
                ),
            )
        return Outcome(done)

    async def sign_off(self, name: str, *, actor: str, note: str) -> Outcome:
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None:
                raise LookupError(name)
            owner = spec_of(wave).sign_off_owner
            if owner and actor != owner:
                raise PermissionError(
                    f"wave {wave.name} is signed off by its owner '{owner}', not '{actor}'"
                )
            done = await move(
                session,
                wave,
                Trigger.SIGN_OFF,
                actor=actor,
                reason=note,
                plan=await plan_name(session, wave),
            )
            wave.signed_off_by, wave.signed_off_at = actor, done.event.ts
            wave.signoff_note = note
            wave.message = f"signed off by {actor}: {note}"
        return Outcome(done)

    async def retry(self, name: str, *, actor: str, reason: str) -> Outcome:
        """RolledBack -> Draft: the wave's chargers leave its group (back to the routes they had
        before it) and pre-flight runs again; once it passes, the wave is Ready to start."""
        async with self.rt.sessions() as session, session.begin():
            wave = await locked(session, name)
            if wave is None:
                raise LookupError(name)
            next_phase(Phase(wave.phase), Trigger.RETRY)  # refuses before routing is touched
            if wave.routing_group:
                await self.services.put_group(
                    wave.routing_group,
                    [],
                    f"migration wave {wave.name}: chargers cut over so far",
                    f"wave {wave.name} retried: its chargers leave the wave's route ({reason})",
                )
            retried = len(wave.moved)
            wave.moved, wave.waiting, wave.gates, wave.health = [], [], {}, "Unknown"
            wave.signed_off_by = wave.signed_off_at = wave.signoff_note = None
            wave.message = "retried: pre-flight runs again"
            done = await move(
                session,
                wave,
                Trigger.RETRY,
                actor=actor,
                reason=reason,
                plan=await plan_name(session, wave),
                detail={"previously_moved": retried},
            )
        return Outcome(done)
