"""The wave lifecycle as a state machine (pure): every allowed move, every refusal, plan order."""

from __future__ import annotations

import pytest

from sy_migration.lifecycle import (
    TRANSITIONS,
    Phase,
    PlanMember,
    Refused,
    Trigger,
    allowed_from,
    blocking,
    next_phase,
)

HAPPY = [
    (Phase.DRAFT, Trigger.PREFLIGHT_PASSED, Phase.READY),
    (Phase.READY, Trigger.START, Phase.CUTTING_OVER),
    (Phase.CUTTING_OVER, Trigger.ALL_CUT_OVER, Phase.OBSERVING),
    (Phase.OBSERVING, Trigger.WINDOW_HELD, Phase.PASSED),
    (Phase.PASSED, Trigger.SIGN_OFF, Phase.SIGNED_OFF),
]


def test_the_happy_path_reaches_signed_off() -> None:
    phase = Phase.DRAFT
    for before, trigger, after in HAPPY:
        assert phase is before
        phase = next_phase(phase, trigger)
        assert phase is after


@pytest.mark.parametrize(
    "phase", [Phase.CUTTING_OVER, Phase.OBSERVING, Phase.PASSED, Phase.SIGNED_OFF]
)
def test_rollback_applies_once_chargers_may_have_moved(phase: Phase) -> None:
    assert next_phase(phase, Trigger.ROLLBACK) is Phase.ROLLED_BACK


@pytest.mark.parametrize("phase", [Phase.CUTTING_OVER, Phase.OBSERVING])
def test_a_breach_rolls_back_during_cutover_and_observation(phase: Phase) -> None:
    assert next_phase(phase, Trigger.BREACH) is Phase.ROLLED_BACK


@pytest.mark.parametrize(
    ("phase", "trigger", "says"),
    [
        (Phase.DRAFT, Trigger.START, "only a Ready wave can start"),
        (Phase.DRAFT, Trigger.ROLLBACK, "only a wave whose cutover began"),
        (Phase.READY, Trigger.ROLLBACK, "only a wave whose cutover began"),
        (Phase.OBSERVING, Trigger.SIGN_OFF, "only a Passed wave can be signed off"),
        (Phase.SIGNED_OFF, Trigger.SIGN_OFF, "only a Passed wave"),
        (Phase.ROLLED_BACK, Trigger.ROLLBACK, "cutover began"),
        (Phase.PASSED, Trigger.BREACH, "does not apply"),
        (Phase.SIGNED_OFF, Trigger.RETRY, "only a RolledBack wave"),
    ],
)
def test_refusals_say_why(phase: Phase, trigger: Trigger, says: str) -> None:
    with pytest.raises(Refused, match=says) as refused:
        next_phase(phase, trigger)
    assert phase.value in str(refused.value)


def test_every_phase_is_reachable_and_every_non_final_phase_can_leave() -> None:
    reached = {Phase.DRAFT} | set(TRANSITIONS.values())
    assert reached == set(Phase)
    leaving = {before for before, _ in TRANSITIONS}
    assert leaving == set(Phase)  # even SignedOff can be rolled back, RolledBack retried


def test_retry_returns_to_draft() -> None:
    assert next_phase(Phase.ROLLED_BACK, Trigger.RETRY) is Phase.DRAFT
    assert next_phase(Phase.READY, Trigger.PREFLIGHT_FAILED) is Phase.DRAFT


def test_the_pilot_goes_first_and_waves_follow_in_order() -> None:
    pilot = PlanMember("pilot", 0, True, Phase.OBSERVING)
    wave1 = PlanMember("wave-1", 1, False, Phase.READY)
    wave2 = PlanMember("wave-2", 2, False, Phase.READY)
    plan = [pilot, wave1, wave2]
    assert blocking(pilot, plan) == []
    assert blocking(wave1, plan) == ["pilot (Observing)"]
    assert blocking(wave2, plan) == ["pilot (Observing)", "wave-1 (Ready)"]
    signed = [PlanMember("pilot", 0, True, Phase.SIGNED_OFF), wave1, wave2]
    assert blocking(wave1, signed) == []
    assert blocking(wave2, signed) == ["wave-1 (Ready)"]


@pytest.mark.parametrize(
    ("phase", "trigger", "allowed"),
    [
        (Phase.DRAFT, Trigger.START, "from Draft no command applies; on its own it moves to Ready"),
        (Phase.READY, Trigger.RETRY, "from Ready an operator may run start (to CuttingOver)"),
        (Phase.OBSERVING, Trigger.SIGN_OFF, "may run rollback (to RolledBack); on its own"),
        (Phase.PASSED, Trigger.START, "signoff (to SignedOff) or rollback (to RolledBack)"),
        (Phase.SIGNED_OFF, Trigger.RETRY, "from SignedOff an operator may run rollback"),
        (Phase.ROLLED_BACK, Trigger.START, "from RolledBack an operator may run retry (to Draft)"),
    ],
)
def test_a_refusal_names_the_transitions_allowed_from_the_phase(
    phase: Phase, trigger: Trigger, allowed: str
) -> None:
    with pytest.raises(Refused) as refused:
        next_phase(phase, trigger)
    assert allowed in str(refused.value)
    assert allowed_from(phase) in str(refused.value)
