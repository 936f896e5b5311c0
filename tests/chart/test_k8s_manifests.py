"""k8s/: the MigrationWave CRD (valid CustomResourceDefinition, structural schema, the columns
kubectl shows) and the example waves, plain and through the kustomize overlay, validated against
the CRD's own openAPIV3Schema."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "k8s" / "crds" / "migrationwave.yaml"
EXAMPLES = ROOT / "k8s" / "examples"
OVERLAYS = sorted(
    p.parent for p in (EXAMPLES / "kustomize" / "overlays").glob("*/kustomization.yaml")
)
KUBE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    (doc,) = load_all(CRD_FILE)
    return doc


@pytest.fixture(scope="module")
def wave_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def validate_wave(wave: dict[str, Any], crd: dict[str, Any], schema: dict[str, Any]) -> None:
    (version,) = crd["spec"]["versions"]
    assert wave["apiVersion"] == f"{crd['spec']['group']}/{version['name']}"
    assert wave["kind"] == crd["spec"]["names"]["kind"]
    jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).validate(wave)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_crd_is_a_valid_custom_resource_definition(crd: dict[str, Any], kube_version: str) -> None:
    kubernetes_validate.validate(crd, kube_version, strict=True)


def test_crd_names_scope_and_subresources(crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    assert crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}"
    assert (spec["group"], spec["scope"], spec["names"]["kind"]) == (
        "switchyard.io",
        "Namespaced",
        "MigrationWave",
    )
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert list(columns) == ["Phase", "Chargers", "Progress", "Health", "Age"]
    assert columns["Age"] == ".metadata.creationTimestamp"


def test_crd_schema_is_structural(wave_schema: dict[str, Any]) -> None:
    """Every node has a type (what the API server demands of a structural schema)."""

    def walk(node: dict[str, Any], where: str) -> None:
        if not node.get("x-kubernetes-preserve-unknown-fields") and not node.get(
            "x-kubernetes-int-or-string"
        ):
            assert "type" in node, where
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{where}.{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{where}{{}}")

    walk(wave_schema, "MigrationWave")
    spec = wave_schema["properties"]["spec"]["properties"]
    assert {
        "selector",
        "targetBackend",
        "successCriteria",
        "observationWindow",
        "cutoverRate",
        "rollbackTarget",
        "signOffOwner",
        "note",
    } <= set(spec)
    status = wave_schema["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == [
        "Draft",
        "Ready",
        "CuttingOver",
        "Observing",
        "Passed",
        "SignedOff",
        "RolledBack",
    ]
    assert {"chargers", "progress", "health", "conditions"} <= set(status)


def test_chart_ships_the_same_crd() -> None:
    shipped = ROOT / "charts" / "switchyard" / "crds" / "migrationwave.yaml"
    assert shipped.read_text() == CRD_FILE.read_text()


def test_example_waves_match_the_crd(crd: dict[str, Any], wave_schema: dict[str, Any]) -> None:
    waves = [
        d
        for p in sorted(EXAMPLES.rglob("*.yaml"))
        for d in load_all(p)
        if d.get("kind") == "MigrationWave"
    ]
    assert len(waves) >= 2
    for wave in waves:
        if "spec" in wave and "targetBackend" in wave["spec"]:  # complete waves, not patches
            validate_wave(wave, crd, wave_schema)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_kustomize_overlay_builds_valid_waves(
    overlay: Path, crd: dict[str, Any], wave_schema: dict[str, Any]
) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    waves = [d for d in yaml.safe_load_all(built) if d]
    assert waves
    for wave in waves:
        validate_wave(wave, crd, wave_schema)
        assert wave["metadata"]["namespace"] == "switchyard"
        assert wave["spec"]["cutoverRate"]["chargersPerMinute"] == 2


BAD_WAVES = [
    ("no target", lambda w: w["spec"].pop("targetBackend")),
    ("empty selector", lambda w: w["spec"].__setitem__("selector", {})),
    ("ratio above 1", lambda w: w["spec"]["successCriteria"].__setitem__("maxCallErrorRatio", 5)),
    ("window format", lambda w: w["spec"].__setitem__("observationWindow", "a day")),
    ("rate zero", lambda w: w["spec"]["cutoverRate"].__setitem__("chargersPerMinute", 0)),
    ("unknown phase", lambda w: w.__setitem__("status", {"phase": "Done"})),
    (
        "bad operator",
        lambda w: w["spec"]["selector"].__setitem__(
            "matchExpressions", [{"key": "a", "operator": "Like"}]
        ),
    ),
]


@pytest.mark.parametrize("mutate", [b[1] for b in BAD_WAVES], ids=[b[0] for b in BAD_WAVES])
def test_crd_schema_refuses_bad_waves(
    mutate: Any, crd: dict[str, Any], wave_schema: dict[str, Any]
) -> None:
    (wave,) = load_all(EXAMPLES / "wave-pilot.yaml")
    mutate(wave)
    with pytest.raises(jsonschema.ValidationError):
        validate_wave(wave, crd, wave_schema)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_dev_backing_services_are_valid(kube_version: str) -> None:
    docs = load_all(ROOT / "k8s" / "dev" / "backing-services.yaml")
    assert {d["kind"] for d in docs} == {"Service", "Deployment"}
    for doc in docs:
        kubernetes_validate.validate(doc, kube_version, strict=True)
