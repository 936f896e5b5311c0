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
from sy_migration.transitions import Announcement, record


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
) -> tuple[Wave, str, Announcement | None]:
    """Create or update the wave; returns it, 'created', 'configured' or 'unchanged', and the
    transition to announce once committed (creation, or a Ready wave back to Draft)."""
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
        done = await record(
            session,
            wave,
            None,
            "created",
            actor=actor,
            reason=manifest.spec.note,
            plan=manifest.plan,
        )
        return wave, "created", done
    if wave.spec == spec and wave.labels == manifest.metadata.labels:
        return wave, "unchanged", None
    phase = Phase(wave.phase)
    if phase not in EDITABLE:
        raise Refused(
            f"wave {wave.name} is {phase.value}: its spec cannot change now; roll it back first "
            "(switchyard wave rollback) or create a new wave"
        )
    wave.spec, wave.labels = spec, manifest.metadata.labels
    wave.plan_id = plan.id if plan else None
    wave.generation += 1
    wave.message = "spec changed: waiting for pre-flight"
    if phase is not Phase.READY:
        return wave, "configured", None
    # A changed Ready wave is checked again before it may start.
    wave.phase = Phase.DRAFT.value
    back = await record(
        session,
        wave,
        phase,
        "spec_changed",
        actor=actor,
        reason="spec changed: pre-flight runs again",
        plan=manifest.plan,
        detail={"generation": wave.generation},
    )
    return wave, "configured", back


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
