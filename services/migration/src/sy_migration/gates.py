"""Success criteria judged against the journal's health of a wave's chargers: pure code.

`evaluate(criteria, health, divergences)` reads a `POST /health` answer (journal) and the count of
shadow divergences in the same window, and says for each threshold the value, whether it holds,
or that there is not enough traffic to judge yet (fewer attempts than `minSamples`). A gate
without samples never breaches: silence is not failure, and the observation window makes sure
the wave saw traffic before it passes (`min_samples` on the criteria).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sy_migration.spec import SuccessCriteria

GateState = Literal["ok", "breach", "pending"]
Health = Literal["Unknown", "Healthy", "Degraded", "Failing"]
NEAR = 0.1  # within 10% of a threshold's headroom is Degraded


@dataclass(frozen=True, slots=True)
class Gate:
    name: str  # the criterion, as in the spec (camelCase)
    metric: str  # what was measured, in the operator's words
    comparison: Literal["min", "max"]
    threshold: float
    value: float | None
    samples: int | None
    state: GateState

    def sentence(self) -> str:
        if self.value is None:
            return f"{self.metric}: not enough traffic yet (threshold {self.threshold:g})"
        sign = ">=" if self.comparison == "min" else "<="
        held = "holds" if self.state == "ok" else "BREACHED"
        return f"{self.metric} {self.value:.4g} (must be {sign} {self.threshold:g}): {held}"


@dataclass(frozen=True, slots=True)
class Divergences:
    count: int
    by_charger: dict[str, int] = field(default_factory=dict)
    by_action: dict[str, int] = field(default_factory=dict)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class GateReport:
    gates: list[Gate]
    health: Health

    @property
    def breaches(self) -> list[Gate]:
        return [g for g in self.gates if g.state == "breach"]

    def summary(self) -> str:
        if self.breaches:
            return "; ".join(g.sentence() for g in self.breaches)
        judged = [g for g in self.gates if g.state == "ok"]
        return f"{len(judged)}/{len(self.gates)} gates hold" + (
            "" if len(judged) == len(self.gates) else ", the rest wait for traffic"
        )

    def doc(self) -> dict[str, Any]:
        return {"health": self.health, "gates": [asdict(g) for g in self.gates]}


def _rate(health: dict[str, Any], key: str) -> tuple[float | None, int]:
    part = health.get(key) or {}
    return part.get("rate"), int(part.get("total") or 0)


def _disconnected(health: dict[str, Any]) -> tuple[float | None, int]:
    chargers = health.get("per_charger") or []
    if not chargers:
        return None, 0
    dropped = sum(1 for c in chargers if c["reconnects"] > 0 or c["availability"] < 0.999)
    return dropped / len(chargers), len(chargers)


Measure = Callable[[dict[str, Any], Divergences], tuple[float | None, int | None]]
# criterion -> (what it measures, min/max, how to read it from the health answer)
MEASURES: dict[str, tuple[str, Literal["min", "max"], Measure]] = {
    "minAvailability": (
        "availability",
        "min",
        lambda h, d: (h.get("availability"), h.get("chargers")),
    ),
    "maxReconnectsPerChargerPerDay": (
        "reconnects per charger per day",
        "max",
        lambda h, d: (h.get("reconnects_per_charger_per_day"), h.get("chargers")),
    ),
    "maxDisconnectRatio": ("share of chargers that dropped", "max", lambda h, d: _disconnected(h)),
    "minSessionStartRatio": (
        "session start success",
        "min",
        lambda h, d: _rate(h, "session_start"),
    ),
    "minSessionCompletionRatio": (
        "session stop success",
        "min",
        lambda h, d: _rate(h, "session_stop"),
    ),
    "minAuthorizationRatio": (
        "authorization success",
        "min",
        lambda h, d: _rate(h, "authorization"),
    ),
    "maxCallErrorRatio": ("CALLERROR rate", "max", lambda h, d: _rate(h, "callerror")),
    "minMeanTimeBetweenFaultsHours": (
        "mean time between faults (h)",
        "min",
        lambda h, d: (h.get("mean_time_between_faults_h"), h.get("chargers")),
    ),
    "maxShadowDivergences": ("shadow divergences", "max", lambda h, d: (float(d.count), None)),
    "maxShadowDivergenceRatio": (
        "shadow divergences per answered CALL",
        "max",
        lambda h, d: _per_call(d.count, h),
    ),
}


def _per_call(count: int, health: dict[str, Any]) -> tuple[float | None, int]:
    _, calls = _rate(health, "callerror")
    return (count / calls if calls else None), calls


def _judge(comparison: str, threshold: float, value: float) -> bool:
    return value >= threshold if comparison == "min" else value <= threshold


def _near(comparison: str, threshold: float, value: float) -> bool:
    if comparison == "max":
        return threshold > 0 and value > threshold * (1 - NEAR)
    headroom = 1 - threshold if threshold <= 1 else threshold
    return value < threshold + headroom * NEAR


CONNECTION_GATES = frozenset(
    {"minAvailability", "maxDisconnectRatio", "maxReconnectsPerChargerPerDay"}
)


def connection_data_missing(health: dict[str, Any], connected_now: set[str]) -> bool:
    """The journal derives availability from the edge's charger_connected events; a charger the
    connectors relay right now but that the journal shows never connected means those events
    are missing (not that the charger is down), so the connection gates cannot be judged."""
    return any(
        c["charger_id"] in connected_now and c["availability"] == 0 and c["reconnects"] == 0
        for c in health.get("per_charger") or []
    )


def evaluate(
    criteria: SuccessCriteria,
    health: dict[str, Any],
    divergences: Divergences,
    unmeasured: frozenset[str] = frozenset(),
) -> GateReport:
    """`unmeasured`: criteria whose data is known to be missing; they stay pending."""
    wanted = criteria.model_dump(by_alias=True, exclude_none=True)
    gates = []
    for name, (metric, comparison, measure) in MEASURES.items():
        if name not in wanted:
            continue
        threshold = float(wanted[name])
        if name in unmeasured:
            gates.append(Gate(name, metric, comparison, threshold, None, None, "pending"))
            continue
        value, samples = measure(health, divergences)
        # Counts (divergences) are always judged; rates only once they have enough attempts.
        enough = samples is None or samples >= criteria.min_samples
        if value is None or not enough:
            gates.append(Gate(name, metric, comparison, threshold, None, samples, "pending"))
            continue
        state: GateState = "ok" if _judge(comparison, threshold, value) else "breach"
        gates.append(Gate(name, metric, comparison, threshold, float(value), samples, state))
    return GateReport(gates, _health(gates))


def _health(gates: list[Gate]) -> Health:
    if any(g.state == "breach" for g in gates):
        return "Failing"
    judged = [g for g in gates if g.state == "ok" and g.value is not None]
    if not judged:
        return "Unknown"
    if any(_near(g.comparison, g.threshold, g.value) for g in judged if g.value is not None):
        return "Degraded"
    return "Healthy"
