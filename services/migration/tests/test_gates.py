"""Gate evaluation (pure): thresholds against a journal health answer and divergence counts."""

from __future__ import annotations

from typing import Any

from sy_migration.cutover import allowance, next_batch, progress
from sy_migration.gates import Divergences, evaluate
from sy_migration.spec import SuccessCriteria


def health(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "chargers": 10,
        "availability": 1.0,
        "reconnects_per_charger_per_day": 0.0,
        "session_start": {"ok": 20, "total": 20, "rate": 1.0},
        "session_stop": {"ok": 20, "total": 20, "rate": 1.0},
        "authorization": {"ok": 20, "total": 20, "rate": 1.0},
        "callerror": {"ok": 0, "total": 200, "rate": 0.0},
        "faults": 0,
        "mean_time_between_faults_h": None,
        "per_charger": [
            {
                "charger_id": f"CP{i}",
                "availability": 1.0,
                "reconnects": 0,
                "reconnects_per_day": 0.0,
                "faults": 0,
            }
            for i in range(10)
        ],
    }
    doc.update(overrides)
    return doc


CRITERIA = SuccessCriteria.model_validate(
    {
        "minAvailability": 0.95,
        "minAuthorizationRatio": 0.9,
        "minSessionStartRatio": 0.95,
        "maxCallErrorRatio": 0.05,
        "maxShadowDivergences": 2,
        "maxDisconnectRatio": 0.2,
        "minSamples": 5,
    }
)
NONE = Divergences(0)


def test_a_healthy_group_holds_every_gate() -> None:
    report = evaluate(CRITERIA, health(), NONE)
    assert report.health == "Healthy"
    assert not report.breaches
    assert {g.name for g in report.gates} == {
        "minAvailability",
        "minAuthorizationRatio",
        "minSessionStartRatio",
        "maxCallErrorRatio",
        "maxShadowDivergences",
        "maxDisconnectRatio",
    }


def test_blocked_authorizations_breach_and_say_so() -> None:
    report = evaluate(CRITERIA, health(authorization={"ok": 0, "total": 12, "rate": 0.0}), NONE)
    assert report.health == "Failing"
    (breach,) = report.breaches
    assert breach.name == "minAuthorizationRatio"
    assert "authorization success 0 (must be >= 0.9): BREACHED" in report.summary()


def test_too_few_samples_wait_instead_of_breaching() -> None:
    report = evaluate(CRITERIA, health(authorization={"ok": 0, "total": 3, "rate": 0.0}), NONE)
    gate = next(g for g in report.gates if g.name == "minAuthorizationRatio")
    assert gate.state == "pending"
    assert not report.breaches


def test_divergences_count_even_without_traffic() -> None:
    report = evaluate(CRITERIA, health(), Divergences(3, {"CP1": 3}, {"Authorize": 3}))
    assert [g.name for g in report.breaches] == ["maxShadowDivergences"]


def test_disconnect_ratio_counts_chargers_that_dropped() -> None:
    chargers = health()["per_charger"]
    for c in chargers[:3]:
        c["reconnects"] = 1
    report = evaluate(CRITERIA, health(per_charger=chargers), NONE)
    gate = next(g for g in report.gates if g.name == "maxDisconnectRatio")
    assert gate.value == 0.3 and gate.state == "breach"


def test_close_to_a_threshold_is_degraded() -> None:
    report = evaluate(CRITERIA, health(callerror={"ok": 48, "total": 1000, "rate": 0.048}), NONE)
    assert report.health == "Degraded"
    assert not report.breaches


def test_no_judged_gate_is_unknown() -> None:
    criteria = SuccessCriteria.model_validate({"minAuthorizationRatio": 0.9})
    empty = health(authorization={"ok": 0, "total": 0, "rate": None})
    assert evaluate(criteria, empty, NONE).health == "Unknown"


def test_cutover_rate_and_transactions() -> None:
    assert allowance(per_second=20, elapsed_s=1.0, max_in_flight=5) == 5
    assert allowance(per_second=2, elapsed_s=1.0, max_in_flight=5) == 2
    assert allowance(per_second=1 / 60, elapsed_s=30, max_in_flight=5) == 0
    batch = next_batch(["a", "b", "c", "d"], busy={"b"}, budget=2)
    assert batch.move == ["a", "c"] and batch.busy == ["b"]
    assert progress(120, 400) == "120/400 (30%)"
    assert progress(0, 0) == "0/0 (0%)"


def test_connection_gates_wait_when_the_journal_has_no_connection_events() -> None:
    blind = health(
        availability=0.0,
        per_charger=[
            {
                "charger_id": "CP1",
                "availability": 0.0,
                "reconnects": 0,
                "reconnects_per_day": 0.0,
                "faults": 0,
            }
        ],
    )
    from sy_migration.gates import CONNECTION_GATES, connection_data_missing

    assert connection_data_missing(blind, {"CP1"})
    assert not connection_data_missing(blind, set())  # really offline: judged
    report = evaluate(CRITERIA, blind, NONE, CONNECTION_GATES)
    assert not report.breaches
    assert {g.name for g in report.gates if g.state == "pending"} >= {"minAvailability"}
