"""A wave's status as the MigrationWave object's `.status` shows it (REST, CLI and Kubernetes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sy_migration.cutover import progress
from sy_migration.lifecycle import MOVED, Phase
from sy_migration.models import Wave


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def conditions(wave: Wave) -> list[dict[str, Any]]:
    """Kubernetes-style conditions: PreflightPassed, CutOver, GatesHolding, SignedOff."""
    since = _iso(wave.phase_since) or ""
    phase = Phase(wave.phase)
    failing = [c["message"] for c in wave.preflight if not c.get("ok")]
    breaches = [g for g in (wave.gates or {}).get("gates", []) if g.get("state") == "breach"]
    out = [
        {
            "type": "PreflightPassed",
            "status": "True"
            if wave.preflight and not failing
            else "False"
            if wave.preflight
            else "Unknown",
            "reason": "ChecksHold"
            if wave.preflight and not failing
            else "ChecksFail"
            if wave.preflight
            else "NotChecked",
            "message": "; ".join(failing)[:32000] or "every pre-flight check holds",
            "lastTransitionTime": since,
        },
        {
            "type": "CutOver",
            "status": "True"
            if phase in MOVED and not set(wave.members) - set(wave.moved)
            else "False",
            "reason": phase.value,
            "message": progress(len(wave.moved), len(wave.members)),
            "lastTransitionTime": since,
        },
        {
            "type": "GatesHolding",
            "status": "Unknown" if not wave.gates else "False" if breaches else "True",
            "reason": wave.health,
            "message": wave.message[:32000],
            "lastTransitionTime": since,
        },
    ]
    if wave.signed_off_at:
        out.append(
            {
                "type": "SignedOff",
                "status": "True",
                "reason": "SignedOff",
                "message": f"by {wave.signed_off_by}: {wave.signoff_note or ''}"[:32000],
                "lastTransitionTime": _iso(wave.signed_off_at) or since,
            }
        )
    return out


def status_of(wave: Wave) -> dict[str, Any]:
    phase = Phase(wave.phase)
    total, moved = len(wave.members), len(wave.moved)
    rolled_back = moved if phase is Phase.ROLLED_BACK else 0
    status: dict[str, Any] = {
        "observedGeneration": wave.generation,
        "phase": phase.value,
        "chargers": {
            "total": total,
            "cutOver": 0 if phase is Phase.ROLLED_BACK else moved,
            "pending": max(0, total - moved) if phase is not Phase.ROLLED_BACK else 0,
            "rolledBack": rolled_back,
        },
        "progress": progress(0 if phase is Phase.ROLLED_BACK else moved, total),
        "health": wave.health
        if wave.health in ("Unknown", "Healthy", "Degraded", "Failing")
        else "Unknown",
        "conditions": conditions(wave),
    }
    if wave.signed_off_by:
        status["signedOffBy"] = wave.signed_off_by
        status["signedOffAt"] = _iso(wave.signed_off_at)
    return status
