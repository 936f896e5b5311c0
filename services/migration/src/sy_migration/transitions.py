"""Moving a wave to its next phase, and telling everyone: a `wave_transitions` row in the same
transaction as the change, then (after the commit) an audit record for transitions the
controller made on its own (API calls are audited by the platform's middleware) and a
`wave_transition` event on SY_EVENTS for downstream systems (support, field ops)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession

from sy_bus import subjects
from sy_migration.lifecycle import Phase, Trigger, next_phase
from sy_migration.models import Wave, WaveTransition
from sy_platform import audit

log = logging.getLogger(__name__)
CONTROLLER = "migration-controller"


@dataclass(frozen=True, slots=True)
class Announcement:
    transition_id: int
    wave: str
    plan: str | None
    from_phase: str
    to_phase: str
    trigger: str
    actor: str
    reason: str
    at: datetime
    chargers: int
    detail: dict[str, Any] = field(default_factory=dict)

    def event(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "type": "wave_transition",
            "event_id": f"w{self.transition_id}",
            "charger_id": None,
            "ts": self.at.isoformat(),
            "wave": self.wave,
            "plan": self.plan,
            "from_phase": self.from_phase,
            "to_phase": self.to_phase,
            "trigger": self.trigger,
            "actor": self.actor,
            "reason": self.reason,
            "chargers": self.chargers,
        }


async def move(
    session: AsyncSession,
    wave: Wave,
    trigger: Trigger,
    *,
    actor: str,
    reason: str,
    plan: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Announcement:
    """Apply `trigger` to the wave (raises `Refused` when it does not apply) and record it."""
    before = Phase(wave.phase)
    after = next_phase(before, trigger)
    now = datetime.now(UTC)
    wave.phase, wave.phase_since = after.value, now
    row = WaveTransition(
        wave_id=wave.id,
        wave=wave.name,
        from_phase=before.value,
        to_phase=after.value,
        trigger=trigger.value,
        actor=actor,
        reason=reason[:4000],
        detail=detail or {},
        at=now,
    )
    session.add(row)
    await session.flush()
    log.info("wave %s: %s -> %s by %s: %s", wave.name, before.value, after.value, actor, reason)
    return Announcement(
        row.id,
        wave.name,
        plan,
        before.value,
        after.value,
        trigger.value,
        actor,
        reason,
        now,
        len(wave.members),
        detail or {},
    )


_denied_once = False


async def announce(js: JetStreamContext, done: Announcement, *, audited: bool) -> None:
    """After the commit: the event, and an audit record when no API call made the change."""
    global _denied_once
    if not audited:
        record = audit.AuditRecord(
            ts=done.at.isoformat(),
            service="migration",
            actor=done.actor,
            actor_kind="controller",
            method="CONTROLLER",
            path=f"/waves/{done.wave}",
            status=200,
            resource=f"wave/{done.wave}",
            action=done.trigger,
            reason=done.reason,
            before={"phase": done.from_phase},
            after={"phase": done.to_phase},
        )
        await audit.publish(js, record)
    subject = subjects.events("wave_transition", "")
    try:
        await asyncio.wait_for(
            js.publish(
                subject,
                orjson.dumps(done.event()),
                headers={"Nats-Msg-Id": done.event()["event_id"]},
            ),
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
