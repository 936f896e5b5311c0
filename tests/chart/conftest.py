"""Render charts/switchyard with the real Helm engine (helm-python-sdk, Helm v4 compiled in).

`render(values)` returns the manifests as parsed objects, each remembering the template it came
from; every ci/*-values.yaml scenario is rendered once per session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "switchyard"
SCENARIOS = sorted(p.stem.removesuffix("-values") for p in (CHART / "ci").glob("*-values.yaml"))
SERVICES = ("edge", "routing", "connectors", "journal", "migration")
RELEASE = "switchyard"
NAMESPACE = "switchyard"


@dataclass
class Manifest:
    template: str
    obj: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def annotations(self) -> dict[str, str]:
        return self.obj["metadata"].get("annotations") or {}


@dataclass
class Rendered:
    manifests: list[Manifest]
    notes: str
    scenario: str = ""

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m.kind == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [m.obj for m in self.manifests if m.kind == kind and m.name == name]
        assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
        return found[0]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        found = [m.obj for m in self.manifests if m.kind == kind and m.name == name]
        return found[0] if found else None

    def component(self, kind: str, component: str) -> dict[str, Any]:
        return self.get(kind, f"{RELEASE}-{component}")

    def container_env(self, container: dict[str, Any], **overrides: str) -> dict[str, str]:
        """The container's environment as the kubelet would build it from this release's own
        Secrets and ConfigMaps (`$(VAR)` expanded), then `overrides` (for Secrets the operator
        provides, or addresses that differ outside the cluster)."""
        env: dict[str, str] = {}
        for entry in container.get("env", []):
            name = entry["name"]
            if name in overrides:
                env[name] = overrides[name]
            elif "value" in entry:
                env[name] = re.sub(
                    r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), entry["value"]
                )
            elif "secretKeyRef" in entry.get("valueFrom", {}):
                ref = entry["valueFrom"]["secretKeyRef"]
                env[name] = self.get("Secret", ref["name"])["stringData"][ref["key"]]
            elif "configMapKeyRef" in entry.get("valueFrom", {}):
                ref = entry["valueFrom"]["configMapKeyRef"]
                env[name] = self.get("ConfigMap", ref["name"])["data"][ref["key"]]
        return env | overrides

    def pod_specs(self) -> list[tuple[str, dict[str, Any]]]:
        """Every pod spec rendered: Deployments, Jobs and bare Pods (the helm test)."""
        specs = []
        for m in self.manifests:
            if m.kind in ("Deployment", "Job"):
                specs.append((f"{m.kind}/{m.name}", m.obj["spec"]["template"]["spec"]))
            elif m.kind == "Pod":
                specs.append((f"Pod/{m.name}", m.obj["spec"]))
        return specs


def scenario_values(scenario: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "ci" / f"{scenario}-values.yaml").read_text())
    return values or {}


@pytest.fixture(scope="session")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm.Chart) -> Callable[[dict[str, Any]], Rendered]:
    def do_render(values: dict[str, Any]) -> Rendered:
        out = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        manifests: list[Manifest] = []
        notes = ""
        for template, text in sorted(out.items()):
            if template.endswith("NOTES.txt"):
                notes = text
                continue
            for obj in yaml.safe_load_all(text):
                if obj:
                    manifests.append(Manifest(template, obj))
        return Rendered(manifests, notes)

    return do_render


@pytest.fixture(scope="session")
def rendered_scenarios(render: Callable[[dict[str, Any]], Rendered]) -> dict[str, Rendered]:
    rendered = {}
    for scenario in SCENARIOS:
        rendered[scenario] = render(scenario_values(scenario))
        rendered[scenario].scenario = scenario
    return rendered


@pytest.fixture(params=SCENARIOS)
def scenario(request: pytest.FixtureRequest, rendered_scenarios: dict[str, Rendered]) -> Rendered:
    return rendered_scenarios[request.param]
