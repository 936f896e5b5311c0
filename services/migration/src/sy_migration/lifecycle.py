"""A wave's lifecycle as a pure state machine: which phase follows which, on what, and why not.

    Draft --preflight ok--> Ready --start--> CuttingOver --all moved--> Observing
    Ready --preflight fails--> Draft
    CuttingOver | Observing --breach or rollback--> RolledBack
    Observing --window held--> Passed --signoff--> SignedOff
    Passed | SignedOff --rollback--> RolledBack --retry--> Draft

A breach during the cutover or the observation rolls back on its own when the wave says so
(`autoRollback`); an operator can roll back at any phase after the cutover began, even after
sign-off (a site failing on day 20 still needs its way back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Phase(StrEnum):
    DRAFT = "Draft"
    READY = "Ready"
    CUTTING_OVER = "CuttingOver"
    OBSERVING = "Observing"
    PASSED = "Passed"
    SIGNED_OFF = "SignedOff"
    ROLLED_BACK = "RolledBack"


class Trigger(StrEnum):
    PREFLIGHT_PASSED = "preflight_passed"
    PREFLIGHT_FAILED = "preflight_failed"
    START = "start"
    ALL_CUT_OVER = "all_cut_over"
    WINDOW_HELD = "window_held"
    BREACH = "breach"
    ROLLBACK = "rollback"
    SIGN_OFF = "sign_off"
    RETRY = "retry"


P, T = Phase, Trigger
TRANSITIONS: dict[tuple[Phase, Trigger], Phase] = {
    (P.DRAFT, T.PREFLIGHT_PASSED): P.READY,
    (P.READY, T.PREFLIGHT_FAILED): P.DRAFT,
    (P.READY, T.START): P.CUTTING_OVER,
    (P.CUTTING_OVER, T.ALL_CUT_OVER): P.OBSERVING,
    (P.CUTTING_OVER, T.BREACH): P.ROLLED_BACK,
    (P.CUTTING_OVER, T.ROLLBACK): P.ROLLED_BACK,
    (P.OBSERVING, T.WINDOW_HELD): P.PASSED,
    (P.OBSERVING, T.BREACH): P.ROLLED_BACK,
    (P.OBSERVING, T.ROLLBACK): P.ROLLED_BACK,
    (P.PASSED, T.SIGN_OFF): P.SIGNED_OFF,
    (P.PASSED, T.ROLLBACK): P.ROLLED_BACK,
    (P.SIGNED_OFF, T.ROLLBACK): P.ROLLED_BACK,
    (P.ROLLED_BACK, T.RETRY): P.DRAFT,
}
# Phases in which the wave's chargers may be on the target backend.
MOVED = frozenset({P.CUTTING_OVER, P.OBSERVING, P.PASSED, P.SIGNED_OFF})
# Phases the controller works on.
ACTIVE = frozenset({P.DRAFT, P.READY, P.CUTTING_OVER, P.OBSERVING})
# Phases in which the spec may still change.
EDITABLE = frozenset({P.DRAFT, P.READY, P.ROLLED_BACK})

_WHY_NOT = {
    T.START: "only a Ready wave can start its cutover (its pre-flight must pass first)",
    T.ROLLBACK: "only a wave whose cutover began can be rolled back",
    T.SIGN_OFF: "only a Passed wave can be signed off (its observation window must hold first)",
    T.RETRY: "only a RolledBack wave can be retried",
}


# Operators' commands (the CLI's `switchyard wave <command>`, REST `POST /waves/{name}/<command>`)
# and, for the rest, what moves a wave on its own.
COMMANDS = {T.START: "start", T.ROLLBACK: "rollback", T.SIGN_OFF: "signoff", T.RETRY: "retry"}
_ON_ITS_OWN = {
    T.PREFLIGHT_PASSED: "pre-flight passes",
    T.PREFLIGHT_FAILED: "pre-flight fails",
    T.ALL_CUT_OVER: "every charger is cut over",
    T.WINDOW_HELD: "the observation window holds",
    T.BREACH: "a gate is breached (autoRollback)",
}


class Refused(Exception):
    """A command that does not apply to the wave's phase; the message says why."""


def allowed_from(phase: Phase) -> str:
    """One sentence: what may move a wave on from `phase`, by command and on its own."""
    moves = [(t, after) for (before, t), after in TRANSITIONS.items() if before is phase]
    commands = [f"{COMMANDS[t]} (to {after.value})" for t, after in moves if t in COMMANDS]
    own = [f"to {after.value} when {_ON_ITS_OWN[t]}" for t, after in moves if t in _ON_ITS_OWN]
    said = f"from {phase.value} " + (
        f"an operator may run {' or '.join(commands)}" if commands else "no command applies"
    )
    return said + (f"; on its own it moves {' or '.join(own)}" if own else "")


def next_phase(phase: Phase, trigger: Trigger) -> Phase:
    found = TRANSITIONS.get((phase, trigger))
    if found is None:
        why = _WHY_NOT.get(trigger, f"'{trigger.value}' does not apply")
        raise Refused(f"the wave is {phase.value}; {why}: {allowed_from(phase)}")
    return found


@dataclass(frozen=True, slots=True)
class PlanMember:
    """What the plan rule needs to know of another wave of the same plan."""

    name: str
    order: int
    pilot: bool
    phase: Phase


def blocking(wave: PlanMember, plan: Iterable[PlanMember]) -> list[str]:
    """Waves of the plan that must be signed off before `wave` may cut over: the pilot first,
    then every wave of a lower order."""
    out = []
    for other in plan:
        if other.name == wave.name or other.phase is Phase.SIGNED_OFF:
            continue
        if wave.pilot:
            continue  # the pilot goes first
        if other.pilot or other.order < wave.order:
            out.append(f"{other.name} ({other.phase.value})")
    return sorted(out)
