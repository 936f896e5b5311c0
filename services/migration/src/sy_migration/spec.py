"""What a wave is, in the operator's words: the `MigrationWave` object (k8s/crds/).

The REST API, the CLI (`switchyard wave apply -f`) and the Kubernetes controller all take the same
object, so one YAML file works everywhere. Pure code: parsing and validation only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

API_VERSION = "switchyard.io/v1alpha1"
KIND = "MigrationWave"
PLAN_LABEL = "switchyard.io/plan"
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # a Kubernetes object name (DNS label)
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# Charger attributes routing knows; a selector's labels and expressions may name these.
ATTRIBUTES = ("vendor", "model", "firmware", "ocpp", "site", "criticality", "tags")
ROLLBACK_VERSION = "routing-version"


def duration(text: str) -> timedelta:
    """'90s', '30m', '1h30m' -> timedelta (the CRD's observationWindow pattern)."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None or not any(found.groups()):
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 24h or 1h30m")
    h, m, s = (int(g or 0) for g in found.groups())
    return timedelta(hours=h, minutes=m, seconds=s)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Expression(_Camel):
    key: str = Field(min_length=1, description="A charger attribute: vendor, model, site...")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list, description="Globs, case-insensitive.")

    @field_validator("key")
    @classmethod
    def _known(cls, key: str) -> str:
        if key not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {key!r}; use one of {', '.join(ATTRIBUTES)}")
        return key


class Selector(_Camel):
    """Chargers named (`chargerIds`) and members of routing groups (`groups`) — all chargers when
    neither is given — narrowed by `matchLabels` and `matchExpressions` (every one must hold)."""

    charger_ids: list[str] = Field(default_factory=list, max_length=10_000)
    groups: list[str] = Field(default_factory=list)
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[Expression] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not (self.charger_ids or self.groups or self.match_labels or self.match_expressions):
            raise ValueError("the selector names no chargers: give chargerIds, groups or labels")
        for key in self.match_labels:
            if key not in ATTRIBUTES:
                raise ValueError(f"unknown label {key!r}; use one of {', '.join(ATTRIBUTES)}")
        return self


class SuccessCriteria(_Camel):
    """Thresholds on the journal's health metrics of the wave's chargers (`POST /health`) and on
    shadow divergences. A rate with fewer than `minSamples` attempts is not judged yet."""

    min_availability: float | None = Field(None, ge=0, le=1)
    max_reconnects_per_charger_per_day: float | None = Field(None, ge=0)
    max_disconnect_ratio: float | None = Field(None, ge=0, le=1)
    min_session_start_ratio: float | None = Field(None, ge=0, le=1)
    min_session_completion_ratio: float | None = Field(None, ge=0, le=1)
    min_authorization_ratio: float | None = Field(None, ge=0, le=1)
    max_call_error_ratio: float | None = Field(None, ge=0, le=1)
    min_mean_time_between_faults_hours: float | None = Field(None, ge=0)
    max_shadow_divergences: int | None = Field(None, ge=0)
    max_shadow_divergence_ratio: float | None = Field(None, ge=0, le=1)
    min_samples: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if all(v is None for k, v in self.model_dump().items() if k != "min_samples"):
            raise ValueError("successCriteria needs at least one threshold")
        return self


class CutoverRate(_Camel):
    chargers_per_minute: int | None = Field(None, ge=1)
    chargers_per_second: float | None = Field(None, ge=0.001, le=1000)
    max_in_flight: int = Field(
        5, ge=1, description="At most this many chargers per routing change."
    )

    @property
    def per_second(self) -> float:
        if self.chargers_per_second is not None:
            return self.chargers_per_second
        return (self.chargers_per_minute or 10) / 60.0


class Preflight(_Camel):
    lookback: str = Field("24h", description="How far back the shadow run is looked for.")
    require_shadow_boot: bool = Field(
        True, description="Every charger's boot must have reached the target as a shadow."
    )
    require_open_upstream: bool = Field(
        True,
        description="The connectors hold an open socket to the target for every charger "
        "(its credentials were accepted).",
    )

    @field_validator("lookback")
    @classmethod
    def _duration(cls, value: str) -> str:
        duration(value)
        return value


class WaveSpec(_Camel):
    selector: Selector
    target_backend: str = Field(min_length=1)
    rollback_target: str = Field(
        min_length=1,
        description="A backend name (the wave's chargers are routed back to it), or "
        "'routing-version' (restore the routing version recorded before the cutover), or "
        "'routing-version:N'.",
    )
    success_criteria: SuccessCriteria
    observation_window: str = "30m"
    cutover_rate: CutoverRate = Field(default_factory=CutoverRate)
    sign_off_owner: str | None = None
    note: str = Field("", max_length=4096)
    plan: str | None = Field(None, description="The plan (default: label switchyard.io/plan).")
    order: int = Field(1, ge=0, description="Position in the plan; the pilot is 0.")
    pilot: bool = False
    auto_start: bool = Field(False, description="Cut over as soon as the wave is Ready.")
    auto_rollback: bool = Field(True, description="Roll back on a gate breach.")
    gate_interval: str = Field("10s", description="How often the gates are evaluated.")
    preflight: Preflight = Field(default_factory=Preflight)

    @field_validator("observation_window", "gate_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        duration(value)
        return value

    @field_validator("rollback_target")
    @classmethod
    def _rollback(cls, value: str) -> str:
        if value.startswith(f"{ROLLBACK_VERSION}:") and not value.split(":", 1)[1].isdigit():
            raise ValueError("rollbackTarget 'routing-version:N' needs a version number")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.rollback_target == self.target_backend:
            raise ValueError("rollbackTarget must differ from targetBackend")
        return self

    @property
    def window(self) -> timedelta:
        return duration(self.observation_window)

    @property
    def interval(self) -> timedelta:
        return duration(self.gate_interval)

    @property
    def rollback_backend(self) -> str | None:
        """The backend to route back to, or None when rollback restores a routing version."""
        return None if self.rollback_target.startswith(ROLLBACK_VERSION) else self.rollback_target

    @property
    def rollback_version(self) -> int | None:
        """The routing version named by 'routing-version:N' (None: the one before cutover)."""
        if self.rollback_target.startswith(f"{ROLLBACK_VERSION}:"):
            return int(self.rollback_target.split(":", 1)[1])
        return None

    def doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(pattern=NAME_PATTERN)
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generation: int | None = None


class WaveManifest(BaseModel):
    """A MigrationWave object, as `kubectl apply -f` takes it."""

    model_config = ConfigDict(extra="allow")

    api_version: Literal["switchyard.io/v1alpha1"] = Field(
        "switchyard.io/v1alpha1", alias="apiVersion"
    )
    kind: Literal["MigrationWave"] = "MigrationWave"
    metadata: Metadata
    spec: WaveSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def plan(self) -> str | None:
        return self.spec.plan or self.metadata.labels.get(PLAN_LABEL)


def parse_manifests(docs: list[Any]) -> list[WaveManifest]:
    """MigrationWave objects from parsed YAML/JSON documents (a List's items included); other
    kinds are refused, so a typo never goes unnoticed."""
    out: list[WaveManifest] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError("each document must be a MigrationWave object")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(parse_manifests(doc["items"]))
            continue
        if doc.get("kind") != KIND:
            raise ValueError(f"kind {doc.get('kind')!r} is not {KIND}")
        out.append(WaveManifest.model_validate(doc))
    return out
