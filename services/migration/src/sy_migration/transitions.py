"""Moving a wave to its next phase, and telling everyone: a `wave_transitions` row in the same
transaction as the change, then (after the commit) an audit record for transitions nobody's API
call made (the platform's middleware audits API calls) and a canonical `wave_transition` event
(`sy_events.WaveTransition`) on SY_EVENTS for downstream systems (support, field ops)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession

from sy_bus import Header
from sy_events import WaveChargers, WaveGate, WaveRollback, WaveTransition, subject_for, to_json
from sy_events.waves import WavePhase
from sy_migration.gates import GateReport
from sy_migration.lifecycle import Phase, Trigger, next_phase
from sy_migration.models import Wave
from sy_migration.models import WaveTransition as TransitionRow
from sy_migration.spec import WaveSpec
from sy_migration.status import status_of
from sy_platform import audit

log = logging.getLogger(__name__)
CONTROLLER = "migration-controller"


@dataclass(frozen=True, slots=True)
class Announcement:
    """A recorded transition, to announce once its transaction committed."""

    event: WaveTransition

    @property
    def wave(self) -> str:
        return self.event.wave

    @property
    def from_phase(self) -> str | None:
        return self.event.from_phase

    @property
    def to_phase(self) -> str:
        return self.event.to_phase


async def record(
    session: AsyncSession,
    wave: Wave,
    before: Phase | None,
    trigger: str,
    *,
    actor: str,
    reason: str,
    plan: str | None,
    detail: dict[str, Any] | None = None,
    report: GateReport | None = None,
    rollback: WaveRollback | None = None,
) -> Announcement:
    """Write the transition row for a wave whose phase was just set, and the event to announce.
    The row's id makes the event's id, so a re-publication is dropped by JetStream."""
    now = datetime.now(UTC)
    wave.phase_since = now
    row = TransitionRow(
        wave_id=wave.id,
        wave=wave.name,
        from_phase=before.value if before else None,
        to_phase=wave.phase,
        trigger=trigger,
        actor=actor,
        reason=reason[:4000],
        detail=detail or {},
        at=now,
    )
    session.add(row)
    await session.flush()
    log.info(
        "wave %s: %s -> %s by %s: %s", wave.name, row.from_phase, wave.phase, actor, reason[:200]
    )
    spec = WaveSpec.model_validate(wave.spec)
    status = status_of(wave)
    counts = status["chargers"]
    event = WaveTransition(
        # The wave's UUID keeps ids unique across databases (a restore, a second install).
        event_id=f"w{wave.id}-{row.id}",
        charger_id=None,
        ts=now,
        wave=wave.name,
        plan=plan,
        from_phase=cast(WavePhase | None, row.from_phase),
        to_phase=cast(WavePhase, wave.phase),
        trigger=trigger,
        actor=actor,
        automatic=actor == CONTROLLER,
        reason=row.reason,
        target_backend=spec.target_backend,
        rollback_target=spec.rollback_target,
        sign_off_owner=spec.sign_off_owner,
        note=spec.note,
        chargers=WaveChargers(
            total=counts["total"],
            cut_over=counts["cutOver"],
            pending=counts["pending"],
            rolled_back=counts["rolledBack"],
        ),
        progress=status["progress"],
        health=status["health"],
        gates=[WaveGate.model_validate(g) for g in report.doc()["gates"]] if report else [],
        rollback=rollback,
    )
    return Announcement(event)


async def move(
    session: AsyncSession,
    wave: Wave,
    trigger: Trigger,
    *,
    actor: str,
    reason: str,
    plan: str | None = None,
    detail: dict[str, Any] | None = None,
    report: GateReport | None = None,
    rollback: WaveRollback | None = None,
) -> Announcement:
    """Apply `trigger` to the wave (raises `Refused` when it does not apply) and record it."""
    before = Phase(wave.phase)
    wave.phase = next_phase(before, trigger).value
    return await record(
        session,
        wave,
        before,
        trigger.value,
        actor=actor,
        reason=reason,
        plan=plan,
        detail=detail,
        report=report,
        rollback=rollback,
    )


_denied_once = False


async def announce(js: JetStreamContext, done: Announcement, *, audited: bool) -> None:
    """After the commit: the event, and an audit record when no API call made the change."""
    global _denied_once
    event = done.event
    if not audited:
        record = audit.AuditRecord(
            ts=event.ts.isoformat(),
            service="migration",
            actor=event.actor,
            actor_kind="controller",
            method="CONTROLLER",
            path=f"/waves/{event.wave}",
            status=200,
            resource=f"wave/{event.wave}",
            action=event.trigger,
            reason=event.reason,
            before={"phase": event.from_phase},
            after={"phase": event.to_phase},
        )
        await audit.publish(js, record)
    subject = subject_for(event)
    try:
        await asyncio.wait_for(
            js.publish(subject, to_json(event), headers={Header.DEDUP: event.event_id}),
            timeout=2,
        )
    except Exception as exc:  # the transition is recorded; the feed is a courtesy
        if not _denied_once:
            _denied_once = True
            log.warning(
                "wave_transition events not published on %s (%r): is the migration "
                "user allowed to publish there? (sy_bus.permissions)",
                subject,
                exc,
            )
