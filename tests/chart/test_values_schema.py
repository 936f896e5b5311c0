"""values.schema.json, as Helm applies it: good scenarios pass, typos and bad values are refused
before anything is rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "switchyard"
GOOD = [*sorted((CHART / "ci").glob("*-values.yaml")), ROOT / "k8s" / "dev" / "values.yaml"]


@pytest.mark.parametrize("values_file", GOOD, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_values_pass_the_schema(chart: helm.Chart, values_file: Path) -> None:
    chart.validate_schema(chart.merge_values(yaml.safe_load(values_file.read_text())))


def test_defaults_pass_the_schema(chart: helm.Chart) -> None:
    chart.validate_schema(chart.merge_values({}))


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("replicas as words", {"edge": {"replicas": "many"}}, "/edge/replicas"),
    ("no connectors", {"connectors": {"replicas": 0}}, "/connectors/replicas"),
    ("shard lease zero", {"connectors": {"shardLeaseSeconds": 0}}, "shardLeaseSeconds"),
    ("nats users toggle", {"natsUsers": {"enabled": "yes"}}, "/natsUsers/enabled"),
    ("nats tls typo", {"natsTls": {"caSecrets": "x"}}, "caSecrets"),
    ("edge tls typo", {"edge": {"tls": {"secret": "x"}}}, "secret"),
    ("controller toggle", {"migration": {"controller": {"enabled": 1}}}, "controller"),
    ("unknown service block key", {"edge": {"replica": 3}}, "replica"),
    ("typo at the top", {"edeg": {"replicas": 3}}, "edeg"),
    ("log format", {"log": {"format": "xml"}}, "/log/format"),
    ("pull policy", {"routing": {"image": {"pullPolicy": "Sometimes"}}}, "pullPolicy"),
    ("negative drain", {"edge": {"drainSeconds": -1}}, "/edge/drainSeconds"),
    ("port out of range", {"edge": {"ocpp": {"port": 70000}}}, "/edge/ocpp/port"),
    ("service type", {"edge": {"service": {"type": "Ingress"}}}, "/edge/service/type"),
    ("role name", {"journal": {"database": {"role": "Journal; DROP"}}}, "role"),
    ("password not URL-safe", {"edge": {"database": {"password": "p@ss/word"}}}, "password"),
    ("nats url", {"externalNats": {"url": "http://nats:4222"}}, "/externalNats/url"),
    ("hpa target", {"edge": {"autoscaling": {"targetCPUUtilizationPercentage": 0}}}, "target"),
    ("api path", {"ingress": {"api": {"paths": {"edge": "edge"}}}}, "/ingress/api/paths/edge"),
    ("bundled toggle", {"nats": {"enabled": "yes"}}, "/nats/enabled"),
]


@pytest.mark.parametrize(("values", "where"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_schema_refuses_bad_values(chart: helm.Chart, values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm.HelmValuesError) as refused:
        chart.validate_schema(chart.merge_values(values))
    assert where in str(refused.value)


def test_render_refuses_bad_values_too(chart: helm.Chart) -> None:
    # `helm install` runs the same validation before rendering anything.
    with pytest.raises(helm.HelmValuesError, match="/edge/replicas"):
        chart.render({"edge": {"replicas": "many"}}, name="switchyard", namespace="switchyard")


def test_external_database_needs_an_admin_credential(chart: helm.Chart) -> None:
    with pytest.raises(
        helm.HelmRenderError, match=r"adminPassword or externalDatabase\.existingSecret"
    ):
        chart.render({}, name="switchyard", namespace="switchyard")
