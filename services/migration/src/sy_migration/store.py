"""Waves in the database: applying a MigrationWave object (create, or change its spec while the
wave may still change), and describing a wave as the object with its status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sy_migration.lifecycle import EDITABLE, Phase, Refused
from sy_migration.models import Plan, Wave, WaveTransition
from sy_migration.spec import API_VERSION, KIND, PLAN_LABEL, WaveManifest
from sy_migration.status import status_of


async def plan_named(session: AsyncSession, name: str, *, create: bool) -> Plan | None:
    plan = await session.scalar(select(Plan).where(Plan.name == name))
    if plan is None and create:
        plan = Plan(name=name, note="")
        session.add(plan)
        await session.flush()
    return plan


async def apply(
    session: AsyncSession,
    manifest: WaveManifest,
    *,
    actor: str,
    source: str = "api",
    namespace: str | None = None,
) -> tuple[Wave, str]:
    """Create or update the wave; returns it and 'created', 'configured' or 'unchanged'."""
    spec = manifest.spec.doc()
    plan = await plan_named(session, manifest.plan, create=True) if manifest.plan else None
    wave = await session.scalar(select(Wave).where(Wave.name == manifest.name).with_for_update())
    now = datetime.now(UTC)
    if wave is None:
        wave = Wave(
            name=manifest.name,
            plan_id=plan.id if plan else None,
            spec=spec,
            labels=manifest.metadata.labels,
            generation=1,
            source=source,
            namespace=namespace,
            phase=Phase.DRAFT.value,
            phase_since=now,
            members=[],
            moved=[],
            waiting=[],
            preflight=[],
            gates={},
            health="Unknown",
            message="waiting for pre-flight",
            created_by=actor,
        )
        session.add(wave)
        await session.flush()
        session.add(
            WaveTransition(
                wave_id=wave.id,
                wave=wave.name,
                from_phase=None,
                to_phase=Phase.DRAFT.value,
                trigger="created",
                actor=actor,
                reason=manifest.spec.note[:4000],
                detail={},
                at=now,
            )
        )
        return wave, "created"
    if wave.spec == spec and wave.labels == manifest.metadata.labels:
        return wave, "unchanged"
    phase = Phase(wave.phase)
    if phase not in EDITABLE:
        raise Refused(
            f"wave {wave.name} is {phase.value}: its spec cannot change now; roll it back first "
            "(switchyard wave rollback) or create a new wave"
        )
    wave.spec, wave.labels = spec, manifest.metadata.labels
    wave.plan_id = plan.id if plan else None
    wave.generation += 1
    if phase is Phase.READY:  # a changed wave is checked again before it may start
        wave.phase, wave.phase_since = Phase.DRAFT.value, now
        session.add(
            WaveTransition(
                wave_id=wave.id,
                wave=wave.name,
                from_phase=phase.value,
                to_phase=Phase.DRAFT.value,
                trigger="spec_changed",
                actor=actor,
                reason="spec changed: pre-flight runs again",
                detail={"generation": wave.generation},
                at=now,
            )
        )
    wave.message = "spec changed: waiting for pre-flight"
    return wave, "configured"


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def describe(wave: Wave, plan: str | None) -> dict[str, Any]:
    """The wave as a MigrationWave object, with the status Kubernetes would show and the
    controller's details (checks, gates, waiting chargers, routing versions)."""
    labels = dict(wave.labels or {})
    if plan and PLAN_LABEL not in labels:
        labels[PLAN_LABEL] = plan
    status = status_of(wave)
    status.update(
        {
            "message": wave.message,
            "phaseSince": _iso(wave.phase_since),
            "cutoverStartedAt": _iso(wave.cutover_started_at),
            "observingSince": _iso(wave.observing_since),
            "evaluatedAt": _iso(wave.evaluated_at),
            "preflight": wave.preflight,
            "gates": (wave.gates or {}).get("gates", []),
            "waiting": wave.waiting,
            "routingGroup": wave.routing_group,
            "routingVersionBefore": wave.routing_version_before,
            "routingVersionRollback": wave.routing_version_rollback,
            "signoffNote": wave.signoff_note,
        }
    )
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": wave.name,
            "labels": labels,
            "generation": wave.generation,
            "creationTimestamp": _iso(wave.created_at),
            "annotations": {"switchyard.io/source": wave.source},
        },
        "spec": wave.spec,
        "status": status,
    }


def transition_doc(row: WaveTransition) -> dict[str, Any]:
    return {
        "at": _iso(row.at),
        "from": row.from_phase,
        "to": row.to_phase,
        "trigger": row.trigger,
        "actor": row.actor,
        "reason": row.reason,
        "detail": row.detail,
    }
