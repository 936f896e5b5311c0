"""Migration waves on the event feed: one `wave_transition` per change of a wave's phase.

Published by the migration service when a wave moves on — an operator's command, the
controller's own judgement (pre-flight, the end of the cutover, a gate breach, a held window)
or a Kubernetes annotation — so support, field ops and ticketing can follow a migration without
polling its API. Fleet-wide: `charger_id` is null and the subject's last token is `=`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sy_events.base import EventBase

WavePhase = Literal[
    "Draft", "Ready", "CuttingOver", "Observing", "Passed", "SignedOff", "RolledBack"
]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaveChargers(_Part):
    """The wave's chargers right after the transition (the MigrationWave's `.status.chargers`)."""

    total: int = Field(ge=0, description="Chargers the wave's selector holds.")
    cut_over: int = Field(ge=0, description="Chargers routed to the target backend now.")
    pending: int = Field(ge=0, description="Chargers still to move.")
    rolled_back: int = Field(ge=0, description="Chargers the rollback routed back.")


class WaveGate(_Part):
    """One success criterion as the controller judged it."""

    name: str = Field(description="The criterion as the wave's spec names it: 'minAvailability'.")
    metric: str = Field(description="What was measured, in words: 'authorization acceptance'.")
    comparison: Literal["min", "max"] = Field(
        description="'min': the value must be at least the threshold; 'max': at most."
    )
    threshold: float = Field(description="The spec's threshold.")
    value: float | None = Field(description="The measured value; null while traffic is missing.")
    samples: int | None = Field(description="Attempts the value is based on.")
    state: Literal["ok", "breach", "pending"] = Field(
        description="'pending' until the criterion has `minSamples` attempts."
    )


class WaveRollback(_Part):
    """Where a rollback sent the wave's chargers."""

    target: str = Field(
        description="The wave's `rollbackTarget`: a backend, 'routing-version' or "
        "'routing-version:N'."
    )
    backend: str | None = Field(
        None, description="The backend the chargers were routed back to (a backend target)."
    )
    restored_version: int | None = Field(
        None, description="The routing-table version restored (a routing-version target)."
    )
    routing_version: int | None = Field(
        None, description="The routing-table version in force after the rollback."
    )
    chargers: int = Field(ge=0, description="Chargers that had been cut over and went back.")


class WaveTransition(EventBase):
    """A migration wave moved from one phase to another. Published by migration."""

    type: Literal["wave_transition"] = "wave_transition"
    wave: str = Field(description="The wave's name (the MigrationWave's metadata.name).")
    plan: str | None = Field(description="The plan the wave belongs to, if any.")
    from_phase: WavePhase | None = Field(description="The phase before; null when created.")
    to_phase: WavePhase = Field(description="The phase now.")
    trigger: str = Field(
        description="What moved it: 'created', 'spec_changed', 'preflight_passed', "
        "'preflight_failed', 'start', 'all_cut_over', 'window_held', 'breach', 'rollback', "
        "'sign_off', 'retry'."
    )
    actor: str = Field(
        description="Who: the API token's name or OIDC subject of the operator, "
        "'migration-controller' for the controller's own judgements, 'kubernetes' for "
        "annotations on the MigrationWave object."
    )
    automatic: bool = Field(
        description="True when the controller moved the wave on its own (no one's command)."
    )
    reason: str = Field(description="Why, as the operator wrote it or the controller found it.")
    target_backend: str = Field(description="The backend the wave moves its chargers to.")
    rollback_target: str = Field(description="The wave's `rollbackTarget`.")
    sign_off_owner: str | None = Field(None, description="Who signs the wave off.")
    note: str = Field("", description="The wave's communications note for support and field ops.")
    chargers: WaveChargers = Field(description="The wave's chargers after the transition.")
    progress: str = Field(description="Chargers cut over of the total: '120/400 (30%)'.")
    health: Literal["Unknown", "Healthy", "Degraded", "Failing"] = Field(
        description="The wave's health by its last gate evaluation."
    )
    gates: list[WaveGate] = Field(
        default_factory=list,
        description="The gates as judged for this transition: set on 'breach' (the breached "
        "ones say so) and 'window_held'; empty otherwise.",
    )
    rollback: WaveRollback | None = Field(
        None, description="Where the chargers went; set when to_phase is RolledBack."
    )
