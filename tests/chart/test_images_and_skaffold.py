"""The images and the dev loop: each service's Dockerfile agrees with the chart (entry point, ports,
user, read-only root), .dockerignore sends what `uv sync` needs and nothing else, and skaffold.yaml
builds every image and wires it into the chart (checked by rendering with skaffold's values)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "switchyard"
SERVICES = ("edge", "routing", "connectors", "journal", "migration")
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())


# ---- Dockerfiles -----------------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_builds_a_small_non_root_image(service: str) -> None:
    steps = instructions(ROOT / "services" / service / "Dockerfile")
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG" and "=" in a)
    froms = [a for k, a in steps if k == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    runs = " ".join(a for k, a in steps if k == "RUN")
    assert f"uv sync --frozen --no-dev --no-editable --package sy-{service}" in runs

    final = final_stage(steps)
    base = final[0][1].split()[0]
    assert args.get(base.strip("${}"), base) == "python:3.11-slim"
    copies = [a for k, a in final if k == "COPY"]
    assert copies == ["--from=builder /app/.venv /app/.venv"], "only the virtualenv"
    assert ("USER", "10001:10001") in final
    assert not any(k == "RUN" for k, _ in final), "nothing runs in the final stage"
    env = " ".join(a for k, a in final if k == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert json.loads(dict(final)["ENTRYPOINT"]) == [
        "/app/.venv/bin/python",
        "-m",
        f"sy_{service}",
    ]
    assert json.loads(dict(final)["CMD"]) == ["serve"]
    assert (ROOT / "services" / service / "src" / f"sy_{service}" / "__main__.py").exists()

    exposed = {int(p) for k, a in final if k == "EXPOSE" for p in a.split()}
    expected = {VALUES[service]["httpPort"]}
    if service == "edge":
        expected.add(VALUES["edge"]["ocpp"]["port"])
    assert exposed == expected
    assert f"SY_HTTP_PORT={VALUES[service]['httpPort']}" in env


def test_the_chart_runs_what_the_images_hold(render: Any) -> None:
    rendered = render({"externalDatabase": {"adminPassword": "x"}})
    python = "/app/.venv/bin/python"
    edge = rendered.component("Deployment", "edge")["spec"]["template"]["spec"]["containers"][0]
    assert edge["lifecycle"]["preStop"]["exec"]["command"][0] == python
    assert (
        rendered.get("Job", "switchyard-db-roles")["spec"]["template"]["spec"]["containers"][0][
            "command"
        ][0]
        == python
    )
    assert (
        rendered.get("Pod", "switchyard-helm-test-ocpp")["spec"]["containers"][0]["command"][0]
        == python
    )


def _dockerignore_excludes(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in rules:
        if any(pattern.fullmatch(p) for p in prefixes):
            excluded = not negated
    return excluded


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((negated, re.compile(regex)))
    return rules


def test_dockerignore_sends_the_workspace_and_nothing_else() -> None:
    rules = _dockerignore_rules()
    needed = ["pyproject.toml", "uv.lock"]
    for member in [*ROOT.glob("libs/*/pyproject.toml"), *ROOT.glob("services/*/pyproject.toml")]:
        needed.append(str(member.relative_to(ROOT)))
    needed += [
        str(p.relative_to(ROOT))
        for p in ROOT.glob("services/*/src/**/*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert any("/migrations/versions/" in n for n in needed)
    for path in needed:
        assert not _dockerignore_excludes(path, rules), path
    for path in [
        ".venv/bin/python",
        ".git/HEAD",
        ".sy/pg/PG_VERSION",
        ".tools/bin/uv",
        "charts/switchyard/values.yaml",
        "services/edge/tests/test_x.py",
        "libs/platform/src/sy_platform/__pycache__/app.cpython-311.pyc",
        "services/edge/.venv/lib/x.py",
        ".mypy_cache/x.json",
    ]:
        assert _dockerignore_excludes(path, rules), path


# ---- skaffold --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def skaffold() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    return config


def test_skaffold_builds_every_service_from_the_repo_root(skaffold: dict[str, Any]) -> None:
    assert skaffold["apiVersion"].startswith("skaffold/v4")
    artifacts = {a["image"]: a for a in skaffold["build"]["artifacts"]}
    assert set(artifacts) == {f"switchyard-{s}" for s in SERVICES}
    for service in SERVICES:
        artifact = artifacts[f"switchyard-{service}"]
        assert artifact["context"] == "."
        dockerfile = artifact["docker"]["dockerfile"]
        assert dockerfile == f"services/{service}/Dockerfile"
        assert (ROOT / dockerfile).exists()


def _skaffold_values(release: dict[str, Any], built: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """What skaffold hands helm: valuesFiles, then setValues, then setValueTemplates filled in."""
    values: dict[str, Any] = {}
    for values_file in release.get("valuesFiles", []):
        values = _merge(values, yaml.safe_load((ROOT / values_file).read_text()))
    for key, value in release.get("setValues", {}).items():
        values = _merge(values, helm.parse_set_string(f"{key}={value}"))
    for key, template in release.get("setValueTemplates", {}).items():

        def fill(match: re.Match[str]) -> str:
            kind, artifact = match.group(1), match.group(2).replace("_", "-")
            repo, tag = built[artifact]
            return repo if kind == "REPO" else tag

        value = re.sub(r"\{\{\s*\.IMAGE_(REPO|TAG)_(\w+)\s*\}\}", fill, template)
        assert "{{" not in value, template
        values = _merge(values, helm.parse_set_string(f"{key}={value}"))
    return values


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _apply_patches(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON Patch (RFC 6902) add/replace, as skaffold applies a profile's patches."""
    doc = copy.deepcopy(config)
    for patch in patches:
        *parents, last = [p for p in patch["path"].split("/")[1:]]
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if patch["op"] == "replace":
                assert index < len(node), patch
                node[index] = patch["value"]
            else:
                node.insert(index, patch["value"])
        else:
            assert patch["op"] == "add" or last in node, patch
            node[last] = patch["value"]
    return doc


def _deploy_and_check(config: dict[str, Any], chart: helm.Chart) -> None:
    (release,) = config["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]) == CHART
    built = {
        a["image"]: (f"localhost:5000/{a['image']}", "dev-0123abc")
        for a in config["build"]["artifacts"]
    }
    values = _skaffold_values(release, built)
    chart.validate_schema(chart.merge_values(values))
    manifests = chart.render(values, name=release["name"], namespace=release["namespace"])
    deployments = {}
    for template, text in manifests.items():
        if template.endswith("NOTES.txt"):
            continue
        for obj in yaml.safe_load_all(text):
            if obj and obj["kind"] == "Deployment":
                deployments[obj["metadata"]["name"]] = obj
            if obj and obj["kind"] == "Service":
                deployments.setdefault("services", {})[obj["metadata"]["name"]] = obj
    for service in SERVICES:
        spec = deployments[f"{release['name']}-{service}"]["spec"]["template"]["spec"]
        assert spec["containers"][0]["image"] == f"localhost:5000/switchyard-{service}:dev-0123abc"
    for forward in config.get("portForward", []):
        svc = deployments["services"][forward["resourceName"]]
        assert forward["port"] in {p["port"] for p in svc["spec"]["ports"]}


def test_skaffold_wires_every_image_into_the_chart(
    skaffold: dict[str, Any], chart: helm.Chart
) -> None:
    (release,) = skaffold["deploy"]["helm"]["releases"]
    for service in SERVICES:
        assert release["setValueTemplates"][f"{service}.image.repository"] == (
            f"{{{{.IMAGE_REPO_switchyard_{service}}}}}"
        )
    _deploy_and_check(skaffold, chart)


def test_skaffold_dev_profile_uses_throwaway_nats_and_postgres(
    skaffold: dict[str, Any], chart: helm.Chart
) -> None:
    (profile,) = [p for p in skaffold["profiles"] if p["name"] == "dev"]
    assert {"command": "dev"} in profile["activation"]
    dev = _apply_patches(skaffold, profile["patches"])
    (release,) = dev["deploy"]["helm"]["releases"]
    assert release["valuesFiles"] == ["k8s/dev/values.yaml"]
    for raw in dev["manifests"]["rawYaml"]:
        docs = [d for d in yaml.safe_load_all((ROOT / raw).read_text()) if d]
        services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
        assert {"nats", "postgres"} <= services
    dev_values = yaml.safe_load((ROOT / "k8s" / "dev" / "values.yaml").read_text())
    assert dev_values["externalNats"]["url"] == "nats://nats:4222"
    assert dev_values["externalDatabase"]["host"] == "postgres"
    _deploy_and_check(dev, chart)
