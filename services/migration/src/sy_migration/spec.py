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
    key: str = Field(
        min_length=1,
        description="A charger attribute: vendor, model, firmware, ocpp, site, criticality, tags.",
    )
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="In / NotIn: the attribute matches one / none of `values`; Exists / "
        "DoesNotExist: the attribute is set / unset."
    )
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

    charger_ids: list[str] = Field(
        default_factory=list, max_length=10_000, description="Chargers named by OCPP identity."
    )
    groups: list[str] = Field(
        default_factory=list, description="Routing groups whose members are in the wave."
    )
    match_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Charger attributes (vendor, model, firmware, ocpp, site, criticality, tags) "
        "that must all match; values are globs, case-insensitive.",
    )
    match_expressions: list[Expression] = Field(
        default_factory=list, description="Conditions on charger attributes; every one must hold."
    )

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

    min_availability: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Mean share of the window the chargers were connected (journal availability).",
    )
    max_reconnects_per_charger_per_day: float | None = Field(
        None, ge=0, description="Reconnections per charger per day."
    )
    max_disconnect_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of chargers that dropped their socket in the window."
    )
    min_session_start_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of transaction starts answered with a CALLRESULT."
    )
    min_session_completion_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of transaction stops answered with a CALLRESULT."
    )
    min_authorization_ratio: float | None = Field(
        None, ge=0, le=1, description="Share of Authorize answers with status Accepted."
    )
    max_call_error_ratio: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Share of answers on the charger side that are CALLERRORs (0.01 = 1%).",
    )
    min_mean_time_between_faults_hours: float | None = Field(
        None, ge=0, description="Charger-hours per fault onset."
    )
    max_shadow_divergences: int | None = Field(
        None,
        ge=0,
        description="Shadow divergences of the target tolerated: in the shadow run (pre-flight) "
        "and after the cutover (against the rollback target kept as a shadow).",
    )
    max_shadow_divergence_ratio: float | None = Field(
        None, ge=0, le=1, description="Shadow divergences per answered CALL."
    )
    min_samples: int = Field(1, ge=1, description="Attempts a rate needs before it is judged.")

    @model_validator(mode="after")
    def _something(self) -> Self:
        if all(v is None for k, v in self.model_dump().items() if k != "min_samples"):
            raise ValueError("successCriteria needs at least one threshold")
        return self


class CutoverRate(_Camel):
    """How fast chargers are moved: the cutover's rate limit."""

    chargers_per_minute: int | None = Field(
        None, ge=1, description="Chargers moved per minute (default 10)."
    )
    chargers_per_second: float | None = Field(
        None, ge=0.001, le=1000, description="Overrides chargersPerMinute for fast waves."
    )
    max_in_flight: int = Field(
        5, ge=1, description="At most this many chargers per routing change."
    )

    @property
    def per_second(self) -> float:
        if self.chargers_per_second is not None:
            return self.chargers_per_second
        return (self.chargers_per_minute or 10) / 60.0


class Preflight(_Camel):
    """What pre-flight demands of the shadow run before the wave may cut over."""

    lookback: str = Field(
        "24h", min_length=2, description="How far back the shadow run is looked for."
    )
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
    """A wave: which chargers, where to, how fast, judged how, back where, signed off by whom."""

    selector: Selector = Field(description="Which chargers are in the wave.")
    target_backend: str = Field(
        min_length=1, description="The routing backend the chargers move to (its name in routing)."
    )
    rollback_target: str = Field(
        min_length=1,
        description="Where chargers return on rollback: a backend name (the wave's chargers are "
        "routed back to it; it stays a shadow after the cutover), or 'routing-version' (restore "
        "the routing version recorded before the cutover), or 'routing-version:N'.",
    )
    success_criteria: SuccessCriteria = Field(
        description="Thresholds on the journal's health metrics of the wave's chargers and on "
        "shadow divergences, judged during the cutover and the observation window; breaching one "
        "rolls the wave back when autoRollback is true."
    )
    observation_window: str = Field(
        "30m",
        min_length=2,
        description="How long the criteria must hold after the cutover, e.g. 30m or 24h.",
    )
    cutover_rate: CutoverRate = Field(
        default_factory=CutoverRate, description="How fast chargers are moved."
    )
    sign_off_owner: str | None = Field(
        None,
        max_length=200,
        description="Who signs the wave off once it passed: an API token's name or an OIDC "
        "subject. Anyone with the operator role when unset.",
    )
    note: str = Field(
        "",
        max_length=4096,
        description="The communications note for support and field ops: what changes for whom, "
        "when, who to call. Carried by every wave_transition event.",
    )
    plan: str | None = Field(
        None, max_length=200, description="The plan (default: label switchyard.io/plan)."
    )
    order: int = Field(
        1,
        ge=0,
        description="Position in the plan; a wave starts once the lower ones are signed off.",
    )
    pilot: bool = Field(False, description="The plan's pilot, which goes first.")
    auto_start: bool = Field(False, description="Cut over as soon as the wave is Ready.")
    auto_rollback: bool = Field(True, description="Roll back on a gate breach.")
    gate_interval: str = Field(
        "10s", min_length=2, description="How often pre-flight and the gates are evaluated."
    )
    preflight: Preflight = Field(
        default_factory=Preflight, description="What the shadow run must show first."
    )

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
        kind = doc.get("kind")
        if not isinstance(kind, str):
            raise ValueError(f"each document needs a 'kind' string ({KIND}), not {kind!r}")
        if kind.endswith("List") and isinstance(doc.get("items"), list):
            out.extend(parse_manifests(doc["items"]))
            continue
        if kind != KIND:
            raise ValueError(f"kind {kind!r} is not {KIND}")
        out.append(WaveManifest.model_validate(doc))
    return out


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def manifest_schema() -> dict[str, Any]:
    """The MigrationWave object's JSON Schema with every field described and no references, for
    the API's documentation (the same fields as the CRD; a test keeps them together)."""
    schema = WaveManifest.model_json_schema(by_alias=True)
    inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}))
    return inlined
