"""Pre-flight: may this wave cut over? Pure code over what routing, the journal and the
connectors report; `checks` says, check by check, what holds and which chargers fail it.

A wave is Ready when:
* it holds chargers, routing knows each one, and no other active wave holds them;
* the target and the rollback target are registered backends;
* the target has been a shadow of every charger and received its BootNotification (journal
  frames to the target), so the target knows the charger before it has to answer it;
* the connectors hold an open socket to the target for every connected charger: its URL and
  credentials were accepted (a socket refused for bad credentials never opens);
* shadow divergences of the target stay under the wave's thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sy_migration.gates import Divergences
from sy_migration.spec import WaveSpec

SAMPLE = 10  # chargers named per failing check


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    chargers: list[str] = field(default_factory=list)

    def doc(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Observed:
    """What pre-flight looks at, gathered by the controller."""

    members: list[str]
    known: set[str]
    backends: Mapping[str, Mapping[str, Any]]  # registered backends by name
    boots_seen: Mapping[str, set[str]]  # charger -> backends that received its boot
    upstreams: Mapping[str, Mapping[str, Mapping[str, Any]]]  # charger -> backend -> state
    divergences: Divergences
    taken: Mapping[str, str] = field(default_factory=dict)  # charger -> other active wave
    boots_truncated: bool = False


def _named(ids: list[str]) -> str:
    head = ", ".join(ids[:SAMPLE])
    return head + (f" and {len(ids) - SAMPLE} more" if len(ids) > SAMPLE else "")


def checks(spec: WaveSpec, seen: Observed) -> list[Check]:
    members, target = seen.members, spec.target_backend
    out = [
        Check(
            "chargers",
            bool(members),
            f"{len(members)} chargers selected" if members else "the selector holds no charger",
        )
    ]
    unknown = [c for c in members if c not in seen.known]
    out.append(
        Check(
            "known",
            not unknown,
            "routing knows every charger"
            if not unknown
            else f"{len(unknown)} chargers never booted through Switchyard: {_named(unknown)}",
            unknown[:SAMPLE],
        )
    )
    taken = sorted(c for c in members if c in seen.taken)
    out.append(
        Check(
            "exclusive",
            not taken,
            "no other active wave holds these chargers"
            if not taken
            else f"{len(taken)} chargers belong to another active wave "
            f"({', '.join(sorted({seen.taken[c] for c in taken}))}): {_named(taken)}",
            taken[:SAMPLE],
        )
    )
    needed = [target] + ([spec.rollback_backend] if spec.rollback_backend else [])
    missing = [b for b in needed if b not in seen.backends]
    out.append(
        Check(
            "backends",
            not missing,
            f"backends registered: {', '.join(needed)}"
            if not missing
            else f"not registered in routing: {', '.join(missing)}",
        )
    )
    if spec.preflight.require_shadow_boot:
        blind = [c for c in members if target not in seen.boots_seen.get(c, set())]
        message = (
            f"{target} received the boot of every charger during its shadow run"
            if not blind
            else f"{target} has not seen the boot of {len(blind)} chargers "
            f"(shadow it, then let them reboot or reconnect): {_named(blind)}"
        )
        if seen.boots_truncated and blind:
            message += " (the journal answered its row limit: narrow preflight.lookback)"
        out.append(Check("shadow_boot", not blind, message, blind[:SAMPLE]))
    if spec.preflight.require_open_upstream:
        connected = [c for c in members if c in seen.upstreams]
        closed = [c for c in connected if not seen.upstreams[c].get(target, {}).get("open")]
        out.append(
            Check(
                "credentials",
                not closed,
                f"the connectors hold an open socket to {target} for all {len(connected)} "
                "connected chargers (URL and credentials accepted)"
                if not closed
                else f"no open socket to {target} for {len(closed)} connected chargers (not a "
                f"shadow yet, or its credentials are refused): {_named(closed)}",
                closed[:SAMPLE],
            )
        )
    limit = spec.success_criteria.max_shadow_divergences
    count = seen.divergences.count
    if limit is not None or spec.success_criteria.max_shadow_divergence_ratio is not None:
        bound = limit if limit is not None else 0
        ok = limit is None or count <= limit
        worst = sorted(seen.divergences.by_charger, key=lambda c: -seen.divergences.by_charger[c])
        actions = ", ".join(f"{a} x{n}" for a, n in sorted(seen.divergences.by_action.items()))
        out.append(
            Check(
                "divergence",
                ok,
                f"{count} shadow divergences of {target} (at most {bound})"
                + (f": {actions}" if actions else ""),
                worst[:SAMPLE],
            )
        )
    return out


def ready(found: list[Check]) -> bool:
    return all(c.ok for c in found)


def summary(found: list[Check]) -> str:
    failing = [c.message for c in found if not c.ok]
    return (
        "; ".join(failing)
        if failing
        else "pre-flight passed: " + "; ".join(c.message for c in found)
    )
