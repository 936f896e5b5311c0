"""The MigrationWave objects in k8s/examples: parsed by the service, reconciled (pure), with the
status written back valid against the CRD; selection and pre-flight on a described fleet."""

from __future__ import annotations

import copy
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sy_migration import preflight, selection
from sy_migration.gates import Divergences
from sy_migration.kube import ROLLBACK_ANNOTATION, reconcile
from sy_migration.models import Wave
from sy_migration.spec import WaveManifest, WaveSpec, parse_manifests
from sy_migration.store import describe

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "k8s" / "crds" / "migrationwave.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
EXAMPLES = sorted((ROOT / "k8s" / "examples").rglob("*.yaml"))


def _objects() -> list[dict[str, Any]]:
    docs = [d for p in EXAMPLES for d in yaml.safe_load_all(p.read_text()) if d]
    waves = [d for d in docs if d.get("kind") == "MigrationWave" and "targetBackend" in d["spec"]]
    overlay = ROOT / "k8s" / "examples" / "kustomize" / "overlays" / "production"
    if shutil.which("kubectl"):
        built = subprocess.run(
            ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
        ).stdout
        waves += [d for d in yaml.safe_load_all(built) if d]
    return waves


OBJECTS = _objects()


def _named(name: str) -> dict[str, Any]:
    return next(o for o in OBJECTS if o["metadata"]["name"] == name)


PILOT = "pilot-berlin-depot"


def _in_cluster(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server returns it."""
    found = copy.deepcopy(obj)
    found["metadata"].update(
        {"generation": 1, "creationTimestamp": "2026-05-04T08:00:00Z", "uid": str(uuid.uuid4())}
    )
    return found


def _validate_status(status: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(
        SCHEMA["properties"]["status"], format_checker=jsonschema.FormatChecker()
    ).validate(status)


def _wave(manifest: WaveManifest, phase: str, **fields: Any) -> Wave:
    now = datetime.now(UTC)
    wave = Wave(
        id=uuid.uuid4(),
        name=manifest.name,
        spec=manifest.spec.doc(),
        labels=manifest.metadata.labels,
        generation=1,
        source="kubernetes",
        phase=phase,
        phase_since=now,
        members=[],
        moved=[],
        waiting=[],
        preflight=[],
        gates={},
        health="Unknown",
        message="",
        created_at=now,
    )
    for key, value in fields.items():
        setattr(wave, key, value)
    return wave


def test_there_are_examples_including_the_overlay() -> None:
    assert len(OBJECTS) >= 2
    assert {o["metadata"]["name"] for o in OBJECTS} >= {"pilot-berlin-depot", "wave-2-public-sites"}


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["metadata"]["name"])
def test_every_example_parses_and_a_new_one_is_applied(obj: dict[str, Any]) -> None:
    (manifest,) = parse_manifests([obj])
    assert manifest.spec.target_backend == "new-csms"
    result = reconcile(_in_cluster(obj), None)
    assert [a.kind for a in result.actions] == ["apply"]
    assert result.status["phase"] == "Draft"
    _validate_status(result.status)


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["metadata"]["name"])
def test_a_known_wave_reports_its_status_and_needs_nothing(obj: dict[str, Any]) -> None:
    (manifest,) = parse_manifests([obj])
    members = [f"CP-{i}" for i in range(10)]
    wave = _wave(
        manifest,
        "Observing",
        members=members,
        moved=members,
        health="Healthy",
        gates={"health": "Healthy", "gates": []},
        message="3/3 gates hold",
    )
    result = reconcile(_in_cluster(obj), describe(wave, manifest.plan))
    assert result.actions == []
    status = result.status
    assert (status["phase"], status["progress"], status["health"]) == (
        "Observing",
        "10/10 (100%)",
        "Healthy",
    )
    assert status["chargers"] == {"total": 10, "cutOver": 10, "pending": 0, "rolledBack": 0}
    assert status["observedGeneration"] == 1
    _validate_status(status)


def test_rollback_by_annotation_and_spec_changes_refused_while_moving() -> None:
    obj = _in_cluster(_named(PILOT))
    (manifest,) = parse_manifests([_named(PILOT)])
    wave = _wave(manifest, "Observing", members=["a"], moved=["a"])
    obj["metadata"].setdefault("annotations", {})[ROLLBACK_ANNOTATION] = "site failing"
    result = reconcile(obj, describe(wave, manifest.plan))
    assert [(a.kind, a.reason) for a in result.actions] == [("rollback", "site failing")]
    obj["spec"]["targetBackend"] = "other-csms"
    result = reconcile(obj, describe(wave, manifest.plan))
    assert [a.kind for a in result.actions] == ["rollback"]
    applied = next(c for c in result.status["conditions"] if c["type"] == "SpecApplied")
    assert applied["status"] == "False" and "Observing" in applied["message"]
    assert "observedGeneration" not in result.status
    _validate_status(result.status)


def test_an_invalid_object_is_reported_not_applied() -> None:
    obj = _in_cluster(_named(PILOT))
    obj["spec"]["rollbackTarget"] = obj["spec"]["targetBackend"]
    result = reconcile(obj, None)
    assert result.actions == []
    (condition,) = result.status["conditions"]
    assert condition["type"] == "SpecValid" and "must differ" in condition["message"]
    _validate_status(result.status)


FLEET = [
    {
        "charger_id": "ABB-1",
        "vendor": "ABB",
        "model": "Terra",
        "firmware": "1.2.0",
        "site": "Berlin-Mitte",
        "criticality": "high",
        "tags": ["public"],
    },
    {
        "charger_id": "ABB-2",
        "vendor": "ABB",
        "model": "Terra",
        "firmware": "1.3.1",
        "site": "Hamburg",
        "criticality": "low",
        "tags": [],
    },
    {
        "charger_id": "ACME-1",
        "vendor": "Acme",
        "model": "AC22",
        "firmware": "4.1",
        "site": "Berlin-Depot",
        "criticality": None,
        "tags": ["depot"],
    },
]


def test_selection_by_group_ids_labels_and_expressions() -> None:
    (manifest,) = parse_manifests([_named("wave-2-public-sites")])
    groups = {"public-sites": ["ABB-1", "ABB-2", "ACME-1"]}
    # vendor ABB, firmware not 1.2.0
    assert selection.members(manifest.spec.selector, FLEET, groups) == ["ABB-2"]
    (pilot,) = parse_manifests([_named(PILOT)])
    chosen = selection.members(pilot.spec.selector, FLEET, {"berlin-depot": ["ACME-1"]})
    assert chosen == ["ACME-1", "CP-BER-0001", "CP-BER-0002", "CP-BER-0003"]


def test_preflight_names_what_is_missing() -> None:
    (manifest,) = parse_manifests([_named(PILOT)])
    spec = manifest.spec
    members = ["ACME-1", "CP-BER-0001"]
    seen = preflight.Observed(
        members=members,
        known={"ACME-1"},
        backends={"new-csms": {}, "legacy-csms": {}},
        boots_seen={"ACME-1": {"legacy-csms", "new-csms"}},
        upstreams={"ACME-1": {"new-csms": {"open": True}}},
        divergences=Divergences(1, {"ACME-1": 1}, {"Authorize": 1}),
    )
    found = {c.name: c for c in preflight.checks(spec, seen)}
    assert not preflight.ready(list(found.values()))
    assert not found["known"].ok and found["known"].chargers == ["CP-BER-0001"]
    assert not found["shadow_boot"].ok and found["shadow_boot"].chargers == ["CP-BER-0001"]
    assert found["credentials"].ok and found["backends"].ok
    assert not found["divergence"].ok and "Authorize x1" in found["divergence"].message
    fixed = preflight.Observed(
        members=["ACME-1"],
        known={"ACME-1"},
        backends=seen.backends,
        boots_seen=seen.boots_seen,
        upstreams=seen.upstreams,
        divergences=Divergences(0),
    )
    assert preflight.ready(preflight.checks(spec, fixed))


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    for key in ("anyOf", "allOf"):
        if key in node:  # `X | None`: the non-null branch
            (branch,) = [b for b in node[key] if b.get("type") != "null"]
            return {**_resolve(branch, defs), **{k: v for k, v in node.items() if k != key}}
    return node


def _differences(
    model: dict[str, Any], crd: dict[str, Any], defs: dict[str, Any], at: str
) -> list[str]:
    """Where the CRD's schema and the model's disagree on fields, required fields, bounds, or
    where the CRD leaves a field undescribed."""
    model = _resolve(model, defs)
    out = []
    if "items" in model:
        return _differences(model["items"], crd.get("items", {}), defs, f"{at}[]")
    mine, theirs = model.get("properties", {}), crd.get("properties", {})
    if set(mine) != set(theirs):
        out.append(f"{at}: model {sorted(mine)} vs CRD {sorted(theirs)}")
    if set(model.get("required", [])) != set(crd.get("required", [])):
        out.append(f"{at}: required {model.get('required')} vs CRD {crd.get('required')}")
    for name in set(mine) & set(theirs):
        field, crd_field = _resolve(mine[name], defs), theirs[name]
        where = f"{at}.{name}"
        if "description" not in crd_field and "properties" not in crd_field:
            out.append(f"{where}: the CRD does not describe it")
        if "description" not in field:
            out.append(f"{where}: the model does not describe it")
        for bound in ("minimum", "maximum", "minLength", "maxLength", "maxItems"):
            pydantic_bound = {"minimum": "minimum", "maximum": "maximum"}.get(bound, bound)
            if field.get(pydantic_bound) != crd_field.get(bound):
                out.append(
                    f"{where}: {bound} {field.get(pydantic_bound)} vs {crd_field.get(bound)}"
                )
        if "properties" in field or "items" in field:
            out += _differences(field, crd_field, defs, where)
    return out


def test_the_crd_and_the_spec_model_carry_the_same_described_fields() -> None:
    """One object everywhere: what `kubectl apply` validates is what REST and the CLI take."""
    model = WaveSpec.model_json_schema(by_alias=True)
    crd = SCHEMA["properties"]["spec"]
    assert _differences(model, crd, model.get("$defs", {}), "spec") == []
    # What the issue asks every wave to carry.
    assert {
        "selector",
        "targetBackend",
        "successCriteria",
        "observationWindow",
        "cutoverRate",
        "rollbackTarget",
        "signOffOwner",
        "note",
    } <= set(crd["properties"])


@pytest.mark.parametrize("kind", [{}, None, 7, ["MigrationWave"]])
def test_a_kind_that_is_not_a_string_is_refused_with_a_sentence(kind: object) -> None:
    """Found by fuzzing: `"kind": {}` crashed the apply endpoint (a 500)."""
    with pytest.raises(ValueError, match="needs a 'kind' string"):
        parse_manifests([{"apiVersion": "switchyard.io/v1alpha1", "kind": kind}])
