"""The chart, rendered by the real Helm engine for every ci/*-values.yaml scenario: lint, Kubernetes
schemas, and the properties an operator relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "switchyard"
SERVICES = ("edge", "routing", "connectors", "journal", "migration")
RELEASE = "switchyard"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest with schemas.
KUBE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
# Kinds from CRDs that are not in the Kubernetes schemas; checked by their own tests below.
CRD_KINDS = {"ServiceMonitor"}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def hook_phases(obj: dict[str, Any]) -> set[str]:
    hooks = (obj["metadata"].get("annotations") or {}).get("helm.sh/hook", "")
    return {h.strip() for h in hooks.split(",") if h.strip()}


# ---- lint and schemas ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario_file", sorted((CHART / "ci").glob("*-values.yaml")), ids=str)
def test_lint_finds_no_errors(scenario_file: Path) -> None:
    values = yaml.safe_load(scenario_file.read_text())
    report = helm.lint(CHART, values, namespace="switchyard", kube_version="v1.30.0")
    problems = [
        m
        for m in report["messages"]
        # Bundled NATS/Postgres are optional subcharts, fetched only by `helm dependency update`.
        if m["severity"] >= 2 and "missing these dependencies" not in m["error"]
    ]
    assert report["total_charts_linted"] == 1
    assert problems == [], problems


def test_every_scenario_is_exercised() -> None:
    names = {p.name for p in (CHART / "ci").glob("*-values.yaml")}
    assert {
        "default-values.yaml",
        "minimal-values.yaml",
        "production-values.yaml",
        "existing-secrets-values.yaml",
    } <= names


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_manifest_matches_the_kubernetes_schema(scenario: Any, kube_version: str) -> None:
    kinds = set()
    for m in scenario.manifests:
        kinds.add(m.kind)
        if m.kind in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(m.obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{m.template}: {m.kind}/{m.name} at {path}: {exc.message}")
    assert {"Deployment", "Service", "Job", "ServiceAccount"} <= kinds


def test_rendered_objects_have_unique_names(scenario: Any) -> None:
    keys = [(m.kind, m.name) for m in scenario.manifests]
    assert len(keys) == len(set(keys))
    assert all(len(m.name) <= 63 for m in scenario.manifests)


# ---- security --------------------------------------------------------------------------------


def test_every_container_is_hardened(scenario: Any) -> None:
    specs = scenario.pod_specs()
    assert len(specs) >= len(SERVICES)
    for where, spec in specs:
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("runAsNonRoot") is True, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        # Only the migration service calls the Kubernetes API (MigrationWave objects).
        calls_the_api = where == f"Deployment/{RELEASE}-migration" and spec[
            "serviceAccountName"
        ] == (f"{RELEASE}-migration")
        assert spec.get("automountServiceAccountToken") is calls_the_api, where
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c.get("securityContext", {})
            who = f"{where} container {c['name']}"
            assert sc.get("runAsNonRoot") is True, who
            assert sc.get("runAsUser", pod_sc.get("runAsUser")) == 10001, who
            assert sc.get("readOnlyRootFilesystem") is True, who
            assert sc.get("allowPrivilegeEscalation") is False, who
            assert sc.get("privileged", False) is False, who
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], who
            assert not sc.get("capabilities", {}).get("add"), who
            assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", who
            # A read-only root still needs a writable /tmp.
            mounts = {v["mountPath"]: v["name"] for v in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, who
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], who


# ---- the services ----------------------------------------------------------------------------


def test_every_service_has_a_deployment_and_a_service(scenario: Any) -> None:
    for service in SERVICES:
        deployment = scenario.component("Deployment", service)
        svc = scenario.component("Service", service)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = env_of(container)
        assert env["SY_HTTP_HOST"]["value"] == "0.0.0.0"
        assert int(env["SY_HTTP_PORT"]["value"]) == ports["http"]
        assert env["SY_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["SY_NATS_URL"]["value"].startswith(("nats://", "tls://"))
        assert container["args"] == ["serve"]
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)


def test_probes_ask_healthz_and_readyz(scenario: Any) -> None:
    for service in SERVICES:
        deployment = scenario.component("Deployment", service)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_edge_serves_chargers_on_its_ocpp_port(scenario: Any) -> None:
    deployment = scenario.component("Deployment", "edge")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = env_of(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert env["SY_OCPP_HOST"]["value"] == "0.0.0.0"
    assert int(env["SY_OCPP_PORT"]["value"]) == ports["ocpp"] == 9000
    assert env["SY_OCPP_PATH_PREFIX"]["value"] == "/ocpp"
    svc_ports = {p["name"]: p for p in scenario.component("Service", "edge")["spec"]["ports"]}
    assert svc_ports["ocpp"]["port"] == 9000


def test_edge_grace_period_covers_prestop_and_drain(
    render: Any, rendered_scenarios: dict[str, Any]
) -> None:
    for name, scenario in rendered_scenarios.items():
        from_values = {**_chart_values()["edge"], **(_scenario(name).get("edge") or {})}
        spec = scenario.component("Deployment", "edge")["spec"]["template"]["spec"]
        pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert f"time.sleep({from_values['preStopSleepSeconds']})" in pre_stop[-1]
        grace = spec["terminationGracePeriodSeconds"]
        assert grace >= from_values["drainSeconds"] + from_values["preStopSleepSeconds"], name
    # And it follows the value.
    spec = render({"externalDatabase": {"adminPassword": "x"}, "edge": {"drainSeconds": 300}})
    grace = spec.component("Deployment", "edge")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace >= 300 + 5


def test_connectors_share_the_chargers_across_replicas(scenario: Any, render: Any) -> None:
    deployment = scenario.component("Deployment", "connectors")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["SY_SHARD_LEASE_S"]["value"] == "3"
    pdb = scenario.component("PodDisruptionBudget", "connectors")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1
    assert scenario.find("HorizontalPodAutoscaler", f"{RELEASE}-connectors") is None

    changed = render(
        {
            "externalDatabase": {"adminPassword": "x"},
            "connectors": {
                "replicas": 4,
                "shardLeaseSeconds": 1.5,
                "podDisruptionBudget": {"enabled": False, "maxUnavailable": 1},
            },
        }
    )
    deployment = changed.component("Deployment", "connectors")
    assert deployment["spec"]["replicas"] == 4
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["SY_SHARD_LEASE_S"]["value"] == "1.5"
    assert changed.find("PodDisruptionBudget", f"{RELEASE}-connectors") is None


def test_edge_hpa_and_pdb_when_enabled(rendered_scenarios: dict[str, Any]) -> None:
    production = rendered_scenarios["production"]
    hpa = production.component("HorizontalPodAutoscaler", "edge")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-edge",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    # The HPA owns the replica count.
    assert "replicas" not in production.component("Deployment", "edge")["spec"]
    pdb = production.component("PodDisruptionBudget", "edge")
    edge_labels = production.component("Deployment", "edge")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= edge_labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1

    minimal = rendered_scenarios["minimal"]
    assert minimal.find("HorizontalPodAutoscaler", f"{RELEASE}-edge") is None
    assert minimal.find("PodDisruptionBudget", f"{RELEASE}-edge") is None
    assert minimal.component("Deployment", "edge")["spec"]["replicas"] == 1


def test_images_follow_registry_tag_and_digest(rendered_scenarios: dict[str, Any]) -> None:
    def image(scenario: str, service: str) -> str:
        deployment = rendered_scenarios[scenario].component("Deployment", service)
        return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])

    app_version = _chart_yaml()["appVersion"]
    assert image("default", "routing") == f"ghcr.io/switchyard/routing:{app_version}"
    assert image("minimal", "journal") == "journal:0.1.0"
    assert image("production", "edge") == (
        "registry.example.com/switchyard/edge@sha256:" + "0123456789abcdef" * 4
    )
    assert image("production", "connectors") == "registry.example.com/switchyard/connectors:0.1.0"


# ---- database: per-service roles, secrets and the setup hooks ---------------------------------


def _database_secret_refs(scenario: Any) -> dict[str, dict[str, str]]:
    refs = {}
    for service in SERVICES:
        deployment = scenario.component("Deployment", service)
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        refs[service] = env["SY_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    return refs


def test_each_service_has_its_own_database_secret(scenario: Any) -> None:
    refs = _database_secret_refs(scenario)
    assert len({r["name"] for r in refs.values()}) == len(SERVICES)
    for service, ref in refs.items():
        secret = scenario.find("Secret", ref["name"])
        if secret is None:  # an existingSecret the operator provides
            continue
        url = secret["stringData"][ref["key"]]
        assert url.startswith(f"postgresql://sy_{service}:{secret['stringData']['password']}@")
        # Created before the setup Jobs that read it, and kept (not deleted) after them.
        assert {"pre-install", "pre-upgrade"} <= hook_phases(secret)
        assert "hook-succeeded" not in secret["metadata"]["annotations"].get(
            "helm.sh/hook-delete-policy", ""
        )
        assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < -10


def test_existing_secrets_are_used_and_none_are_created(rendered_scenarios: dict[str, Any]) -> None:
    scenario = rendered_scenarios["existing-secrets"]
    assert scenario.of_kind("Secret") == []
    refs = _database_secret_refs(scenario)
    assert refs["edge"] == {"name": "switchyard-edge-db", "key": "url"}
    assert refs["connectors"] == {"name": "switchyard-connectors-db", "key": "database-url"}
    roles_job = scenario.get("Job", f"{RELEASE}-db-roles")
    env = env_of(roles_job["spec"]["template"]["spec"]["containers"][0])
    assert env["SY_ADMIN_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "switchyard-db-admin",
        "key": "admin-url",
    }
    assert env["SY_CONNECTORS_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "switchyard-connectors-db",
        "key": "database-password",
    }
    edge = env_of(
        scenario.component("Deployment", "edge")["spec"]["template"]["spec"]["containers"][0]
    )
    assert edge["SY_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "switchyard-nats-users",
        "key": "edge",
    }
    assert edge["SY_NATS_TLS_CA"]["value"].endswith("/ca.crt")


def test_roles_job_runs_the_platform_code_for_one_role_per_service(scenario: Any) -> None:
    job = scenario.get("Job", f"{RELEASE}-db-roles")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    # The same code `switchyard run` and the tests use (tests/chart/test_db_setup.py runs it).
    assert container["command"] == ["/app/.venv/bin/python", "-m", "sy_platform.db_roles"]
    assert container["args"] == [f"{s}=sy_{s}" for s in SERVICES]
    env = env_of(container)
    refs = _database_secret_refs(scenario)
    for service in SERVICES:
        # Each role's password comes from that service's own Secret.
        password_ref = env[f"SY_{service.upper()}_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password_ref["name"] == refs[service]["name"]
    assert "SY_ADMIN_DATABASE_URL" in env
    assert scenario.find("ConfigMap", f"{RELEASE}-db-setup") is None


def test_roles_job_flags_follow_the_values(render: Any) -> None:
    def args(db_setup: dict[str, Any]) -> list[str]:
        rendered = render({"externalDatabase": {"adminPassword": "x"}, "dbSetup": db_setup})
        job = rendered.get("Job", f"{RELEASE}-db-roles")
        return list(job["spec"]["template"]["spec"]["containers"][0]["args"])

    assert _chart_values()["dbSetup"]["grantCreateOnDatabase"] is False
    assert "--grant-create-on-database" in args({"grantCreateOnDatabase": True})
    assert "--keep-public-create" in args({"revokePublicCreate": False})
    assert not {"--grant-create-on-database", "--keep-public-create"} & set(args({}))


def test_migrations_run_per_service_as_its_own_role_after_the_roles(scenario: Any) -> None:
    roles = scenario.get("Job", f"{RELEASE}-db-roles")
    refs = _database_secret_refs(scenario)
    weight = lambda o: int(o["metadata"]["annotations"]["helm.sh/hook-weight"])  # noqa: E731
    assert {"pre-install", "pre-upgrade"} <= hook_phases(roles)
    for service in SERVICES:
        job = scenario.get("Job", f"{RELEASE}-{service}-migrate")
        assert hook_phases(job) == hook_phases(roles)
        assert weight(job) > weight(roles)
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["migrate"]
        deployment = scenario.component("Deployment", service)
        assert (
            container["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        )
        assert env_of(container)["SY_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == refs[service]


def test_admin_secret_is_removed_after_setup(rendered_scenarios: dict[str, Any]) -> None:
    admin = rendered_scenarios["default"].get("Secret", f"{RELEASE}-db-admin")
    policy = admin["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert "hook-succeeded" in policy
    assert admin["stringData"]["url"].startswith("postgresql://postgres:change-me@")


def test_bundled_postgres_runs_the_setup_after_install(render: Any) -> None:
    # Without `helm dependency update` the subcharts are absent, but the wiring still renders.
    bundled = render({"nats": {"enabled": True}, "postgresql": {"enabled": True}})
    roles = bundled.get("Job", f"{RELEASE}-db-roles")
    assert hook_phases(roles) == {"post-install", "pre-upgrade"}
    env = env_of(roles["spec"]["template"]["spec"]["containers"][0])
    assert env["SY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-postgresql",
        "key": "postgres-password",
    }
    assert (
        "$(SY_ADMIN_PASSWORD)@switchyard-postgresql:5432/" in env["SY_ADMIN_DATABASE_URL"]["value"]
    )
    edge = bundled.component("Deployment", "edge")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(edge)["SY_NATS_URL"]["value"] == f"nats://{RELEASE}-nats:4222"
    assert bundled.find("Secret", f"{RELEASE}-db-admin") is None


# ---- exposure --------------------------------------------------------------------------------


def test_charger_ingress_is_websocket_friendly_with_tls(rendered_scenarios: dict[str, Any]) -> None:
    ingress = rendered_scenarios["production"].get("Ingress", f"{RELEASE}-edge-chargers")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    # The operator's annotation wins over the default.
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "7200"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/ocpp"
    assert path["backend"]["service"] == {"name": f"{RELEASE}-edge", "port": {"name": "ocpp"}}
    assert ingress["spec"]["tls"] == [
        {"hosts": [rule["host"]], "secretName": "ocpp-charging-example-com-tls"}
    ]
    assert (
        "wss://ocpp.charging.example.com/ocpp/<chargerId>" in rendered_scenarios["production"].notes
    )


def test_api_ingress_has_a_path_per_service(rendered_scenarios: dict[str, Any]) -> None:
    ingress = rendered_scenarios["production"].get("Ingress", f"{RELEASE}-api")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    backends = {p["backend"]["service"]["name"]: p["path"] for p in paths}
    assert backends == {f"{RELEASE}-{s}": f"/{s}(/|$)(.*)" for s in SERVICES}
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
    assert rendered_scenarios["default"].find("Ingress", f"{RELEASE}-api") is None


def test_notes_tell_the_charger_url(rendered_scenarios: dict[str, Any]) -> None:
    notes = rendered_scenarios["default"].notes
    assert "ws://switchyard-edge.switchyard.svc:9000/ocpp/<chargerId>" in notes
    assert "helm test switchyard" in notes


def test_network_policies(rendered_scenarios: dict[str, Any]) -> None:
    production = rendered_scenarios["production"]
    assert rendered_scenarios["default"].of_kind("NetworkPolicy") == []
    policies = {m.name: m.obj for m in production.of_kind("NetworkPolicy")}
    assert set(policies) == {f"{RELEASE}-{s}" for s in SERVICES}
    release_peer = {
        "podSelector": {
            "matchLabels": {
                "app.kubernetes.io/name": "switchyard",
                "app.kubernetes.io/instance": RELEASE,
            }
        }
    }
    for service in SERVICES:
        policy = policies[f"{RELEASE}-{service}"]["spec"]
        pod_labels = production.component("Deployment", service)["spec"]["template"]["metadata"][
            "labels"
        ]
        assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        http_port = _chart_values()[service]["httpPort"]
        for rule in policy["ingress"]:
            ports = [p["port"] for p in rule["ports"]]
            if "from" not in rule:
                # Only the edge's charger port is open to anyone.
                assert (service, ports) == ("edge", [9000])
            else:
                assert ports == [http_port]
        assert any(rule.get("from") == [release_peer] for rule in policy["ingress"])
        egress = policy["egress"]
        if service == "connectors":
            assert {} in egress  # CSMS backends anywhere
        else:
            egress_ports = {p["port"] for rule in egress for p in rule["ports"]}
            assert egress_ports == {53, 4222, 5432, 4318}
            assert all(rule.get("ports") for rule in egress)
    edge_from = [r.get("from") for r in policies[f"{RELEASE}-edge"]["spec"]["ingress"]]
    ingress_ns = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    assert [ingress_ns] in edge_from


def test_service_monitor_scrapes_every_service(rendered_scenarios: dict[str, Any]) -> None:
    assert rendered_scenarios["default"].of_kind("ServiceMonitor") == []
    production = rendered_scenarios["production"]
    (m,) = production.of_kind("ServiceMonitor")
    monitor = m.obj
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    selector = monitor["spec"]["selector"]
    (expression,) = selector["matchExpressions"]
    for service in SERVICES:
        svc = production.component("Service", service)
        labels = svc["metadata"]["labels"]
        assert selector["matchLabels"].items() <= labels.items()
        assert labels[expression["key"]] in expression["values"]
        assert endpoint["port"] in {p["name"] for p in svc["spec"]["ports"]}


# ---- helm test -------------------------------------------------------------------------------


def test_helm_test_hook_opens_an_ocpp_socket_to_the_edge(scenario: Any) -> None:
    if not (_scenario(scenario.scenario).get("helmTest") or {}).get("enabled", True):
        assert not [m for m in scenario.manifests if "test" in hook_phases(m.obj)]
        return
    pod = scenario.get("Pod", f"{RELEASE}-helm-test-ocpp")
    assert "test" in hook_phases(pod)
    assert pod["spec"]["restartPolicy"] == "Never"
    (container,) = pod["spec"]["containers"]
    edge_image = scenario.component("Deployment", "edge")["spec"]["template"]["spec"]["containers"][
        0
    ]["image"]
    assert container["image"] == edge_image
    assert env_of(container)["SY_SMOKE_URL"]["value"] == f"ws://{RELEASE}-edge:9000/ocpp/helm-test"
    script = scenario.get("ConfigMap", f"{RELEASE}-helm-test")
    assert "test" in hook_phases(script)
    assert script["data"]["ocpp_smoke.py"] == (CHART / "files" / "ocpp_smoke.py").read_text()


def test_helm_test_can_be_turned_off(rendered_scenarios: dict[str, Any]) -> None:
    assert rendered_scenarios["minimal"].find("Pod", f"{RELEASE}-helm-test-ocpp") is None
    assert rendered_scenarios["default"].find("Pod", f"{RELEASE}-helm-test-ocpp") is not None


# ---- helpers ---------------------------------------------------------------------------------


def _chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


def _chart_yaml() -> dict[str, Any]:
    meta: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return meta


def _scenario(name: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text())
    return values


def test_admin_api_auth_reaches_every_service(rendered_scenarios: dict[str, Any]) -> None:
    """The bootstrap token's hash comes from a Secret (never the token itself), OIDC settings are
    passed through, and a scenario that configures neither sets neither."""
    production = rendered_scenarios["production"]
    secret = production.get("Secret", f"{RELEASE}-auth")
    assert set(secret["stringData"]) == {"bootstrap-token-sha256"}
    assert len(secret["stringData"]["bootstrap-token-sha256"]) == 64
    for service in SERVICES:
        container = production.component("Deployment", service)["spec"]["template"]["spec"][
            "containers"
        ][0]
        env = env_of(container)
        ref = env["SY_BOOTSTRAP_TOKEN_SHA256"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{RELEASE}-auth", "key": "bootstrap-token-sha256"}
        assert env["SY_OIDC_JWKS_URL"]["value"].startswith("https://")
        assert env["SY_OIDC_AUDIENCE"]["value"] == "switchyard"
    existing = rendered_scenarios["existing-secrets"]
    assert existing.find("Secret", f"{RELEASE}-auth") is None
    edge = existing.component("Deployment", "edge")["spec"]["template"]["spec"]["containers"][0]
    ref = env_of(edge)["SY_BOOTSTRAP_TOKEN_SHA256"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "switchyard-auth"
    minimal = rendered_scenarios["minimal"]
    routing = minimal.component("Deployment", "routing")["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert "SY_BOOTSTRAP_TOKEN_SHA256" not in env_of(routing)
    assert "SY_OIDC_JWKS_URL" not in env_of(routing)
