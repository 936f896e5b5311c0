"""The chart's bus wiring and the wave controller: each service's own NATS user, the server's
`authorization` block (run for real in a nats-server, with the provisioning hook Job's own command
against it), NATS and charger TLS from Secrets, the migration service's RBAC, token and URLs, and
the sharded connectors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import TimeoutError
from nats.js.api import StreamConfig

from sy_bus import permissions, streams
from sy_devkit.embedded_nats import EmbeddedNats, round_trip

CHART = Path(__file__).resolve().parents[2] / "charts" / "switchyard"
SERVICES = ("edge", "routing", "connectors", "journal", "migration")
RELEASE = "switchyard"
BASE = {"externalDatabase": {"adminPassword": "x"}}


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def containers(rendered: Any) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every service's container and pod spec, and the provisioning Job's under "provision"."""
    found = {}
    for service in SERVICES:
        spec = rendered.component("Deployment", service)["spec"]["template"]["spec"]
        found[service] = (spec["containers"][0], spec)
    spec = rendered.get("Job", f"{RELEASE}-bus-provision")["spec"]["template"]["spec"]
    found["provision"] = (spec["containers"][0], spec)
    return found


def hooks(obj: dict[str, Any]) -> tuple[set[str], int]:
    annotations = obj["metadata"]["annotations"]
    return set(annotations["helm.sh/hook"].split(",")), int(annotations["helm.sh/hook-weight"])


def mounted_file(container: dict[str, Any], spec: dict[str, Any], path: str) -> tuple[str, str]:
    """(Secret name, key) behind a file path in the container; the mount must be read-only."""
    for mount in container.get("volumeMounts", []):
        prefix = mount["mountPath"].rstrip("/") + "/"
        if path.startswith(prefix):
            assert mount.get("readOnly") is True, mount
            (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
            item = path.removeprefix(prefix)
            (key,) = [i["key"] for i in volume["secret"]["items"] if i["path"] == item]
            return volume["secret"]["secretName"], key
    raise AssertionError(f"{path} is not mounted")


# ---- NATS users --------------------------------------------------------------------------------


def test_the_chart_holds_the_permissions_sy_bus_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "sy_bus.permissions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    shipped = (CHART / "files" / "nats-permissions.json").read_text()
    assert json.loads(shipped) == json.loads(printed), (
        "the bus permissions changed: uv run python -m sy_bus.permissions > "
        "charts/switchyard/files/nats-permissions.json"
    )


def test_each_service_connects_as_its_own_nats_user(rendered_scenarios: dict[str, Any]) -> None:
    default = rendered_scenarios["default"]
    passwords = default.get("Secret", f"{RELEASE}-nats-users")["stringData"]
    assert set(passwords) == {*SERVICES, "admin"}
    assert len(set(passwords.values())) == len(passwords)
    assert all(len(p) >= 32 for p in passwords.values())
    for who, (container, _) in containers(default).items():
        env = env_of(container)
        user = "admin" if who == "provision" else who
        assert env["SY_NATS_USER"]["value"] == f"sy-{user}"
        assert env["SY_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{RELEASE}-nats-users",
            "key": user,
        }
        assert "value" not in env["SY_NATS_PASSWORD"]
    secret = default.get("Secret", f"{RELEASE}-nats-users")
    phases, weight = hooks(secret)
    assert {"pre-install", "pre-upgrade"} <= phases
    assert "hook-succeeded" not in secret["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert weight < hooks(default.get("Job", f"{RELEASE}-bus-provision"))[1]


def test_an_existing_users_secret_is_used_and_none_is_made(render: Any) -> None:
    rendered = render({**BASE, "natsUsers": {"enabled": True, "existingSecret": "my-nats"}})
    assert rendered.find("Secret", f"{RELEASE}-nats-users") is None
    assert rendered.find("Secret", "my-nats") is None
    # `helm template` cannot read the operator's Secret: no authorization block to render.
    assert rendered.find("Secret", f"{RELEASE}-nats-auth") is None
    for who, (container, _) in containers(rendered).items():
        ref = env_of(container)["SY_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "my-nats", "key": "admin" if who == "provision" else who}


def test_without_users_nobody_gets_nats_credentials(render: Any) -> None:
    rendered = render({**BASE, "natsUsers": {"enabled": False}})
    assert rendered.find("Secret", f"{RELEASE}-nats-users") is None
    assert rendered.find("Secret", f"{RELEASE}-nats-auth") is None
    for container, _ in containers(rendered).values():
        assert not {"SY_NATS_USER", "SY_NATS_PASSWORD"} & set(env_of(container))


@pytest.fixture(scope="module")
def chart_nats(render: Any) -> Iterator[tuple[Any, EmbeddedNats]]:
    """A real nats-server whose users are the chart's rendered `authorization` block."""
    rendered = render(BASE)
    auth = rendered.get("Secret", f"{RELEASE}-nats-auth")["stringData"]["auth.conf"]
    with tempfile.TemporaryDirectory(prefix="sy-chart-nats-") as tmp:
        (Path(tmp) / "auth.conf").write_text(auth)
        server = EmbeddedNats(Path(tmp) / "store", config=Path(tmp) / "auth.conf", locked=False)
        server.start()
        try:
            yield rendered, server
        finally:
            server.stop()


def test_the_authorization_block_is_sy_bus_permissions(render: Any) -> None:
    rendered = render(BASE)
    passwords = rendered.get("Secret", f"{RELEASE}-nats-users")["stringData"]
    auth = rendered.get("Secret", f"{RELEASE}-nats-auth")["stringData"]["auth.conf"]
    body = auth.strip().removeprefix("authorization {").removesuffix("}").strip()
    users = json.loads(body.removeprefix("users =").strip())
    expected = permissions.server_users(
        {**{s: passwords[s] for s in SERVICES}, permissions.ADMIN_USER: passwords["admin"]}
    )
    key = lambda u: u["user"]  # noqa: E731
    assert sorted(users, key=key) == sorted(expected, key=key)


def _run_provision_job(rendered: Any, url: str) -> subprocess.CompletedProcess[str]:
    job = rendered.get("Job", f"{RELEASE}-bus-provision")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:1] == ["/app/.venv/bin/python"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SY_NATS_")}
    env |= rendered.container_env(container, SY_NATS_URL=url)
    return subprocess.run(
        [sys.executable, *container["command"][1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_provisioning_job_runs_as_the_admin_against_the_chart_users(
    chart_nats: tuple[Any, EmbeddedNats],
) -> None:
    rendered, server = chart_nats
    first = _run_provision_job(rendered, server.plain_url)
    assert first.returncode == 0, first.stderr
    expected = [f"stream {s.name}" for s in streams.STREAMS]
    expected += [f"bucket {b.name}" for b in streams.BUCKETS]
    assert first.stdout.splitlines() == [f"{name}: created" for name in expected]
    again = _run_provision_job(rendered, server.plain_url)
    assert again.stdout.splitlines() == [f"{name}: unchanged" for name in expected]
    passwords = rendered.get("Secret", f"{RELEASE}-nats-users")["stringData"]
    for password in passwords.values():
        assert password not in first.stdout + first.stderr


async def test_a_chart_service_user_is_held_to_its_permissions(
    chart_nats: tuple[Any, EmbeddedNats],
) -> None:
    rendered, server = chart_nats
    container, _ = containers(rendered)["routing"]
    env = rendered.container_env(container)
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(
        server.plain_url,
        user=env["SY_NATS_USER"],
        password=env["SY_NATS_PASSWORD"],
        inbox_prefix=permissions.inbox_prefix("routing").encode(),
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        js = nc.jetstream(timeout=1)
        with pytest.raises(TimeoutError):
            await js.add_stream(StreamConfig(name="SY_CHART_PROBE", subjects=["sy.probe.>"]))
        await nc.publish("sy.up.7.CP-CHART", b"{}")  # the edge's subject, not routing's
        await round_trip(nc)  # the server has read the publish (nc.flush() alone does not say)
        await asyncio.sleep(0.2)
        refusals = [str(e).lower() for e in errors if "permissions violation" in str(e).lower()]
        assert any("$js.api.stream.create.sy_chart_probe" in r for r in refusals), refusals
        assert any('publish to "sy.up.7.cp-chart"' in r for r in refusals), refusals
    finally:
        await nc.close()


def test_provisioning_hook_phases(rendered_scenarios: dict[str, Any], render: Any) -> None:
    job = rendered_scenarios["default"].get("Job", f"{RELEASE}-bus-provision")
    phases, weight = hooks(job)
    assert phases == {"pre-install", "pre-upgrade"}
    assert weight < 0  # before the migrate Jobs (0); the database roles run at -10
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    bundled = render({"nats": {"enabled": True}, "postgresql": {"enabled": True}})
    assert hooks(bundled.get("Job", f"{RELEASE}-bus-provision"))[0] == {
        "post-install",
        "pre-upgrade",
    }
    off = render({**BASE, "busProvision": {"enabled": False}})
    assert off.find("Job", f"{RELEASE}-bus-provision") is None


# ---- TLS -----------------------------------------------------------------------------------------


def test_nats_tls_files_come_from_secrets(render: Any, rendered_scenarios: dict[str, Any]) -> None:
    rendered = render(
        {
            **BASE,
            "externalNats": {"url": "tls://nats.messaging.svc:4222"},
            "natsTls": {"caSecret": "nats-ca", "caKey": "bundle.pem", "clientCertSecret": "client"},
        }
    )
    for who, (container, spec) in containers(rendered).items():
        env = {k: v.get("value") for k, v in env_of(container).items()}
        assert mounted_file(container, spec, env["SY_NATS_TLS_CA"]) == ("nats-ca", "bundle.pem")
        assert mounted_file(container, spec, env["SY_NATS_TLS_CERT"]) == ("client", "tls.crt")
        assert mounted_file(container, spec, env["SY_NATS_TLS_KEY"]) == ("client", "tls.key"), who
    for container, _ in containers(rendered_scenarios["default"]).values():
        assert not {n for n in env_of(container) if n.startswith("SY_NATS_TLS")}


def test_edge_serves_tls_from_a_secret(render: Any, rendered_scenarios: dict[str, Any]) -> None:
    rendered = render(
        {
            **BASE,
            "edge": {"tls": {"secretName": "ocpp-tls", "clientCaSecret": "charger-ca"}},
        }
    )
    container, spec = containers(rendered)["edge"]
    env = {k: v.get("value") for k, v in env_of(container).items()}
    assert mounted_file(container, spec, env["SY_TLS_CERT_FILE"]) == ("ocpp-tls", "tls.crt")
    assert mounted_file(container, spec, env["SY_TLS_KEY_FILE"]) == ("ocpp-tls", "tls.key")
    assert mounted_file(container, spec, env["SY_TLS_CLIENT_CA_FILE"]) == ("charger-ca", "ca.crt")
    for service in ("routing", "journal"):
        other, _ = containers(rendered)[service]
        assert "SY_TLS_CERT_FILE" not in env_of(other)
    default_edge, _ = containers(rendered_scenarios["default"])["edge"]
    assert "SY_TLS_CERT_FILE" not in env_of(default_edge)


# ---- the migration controller ----------------------------------------------------------------


def test_the_migration_service_may_reconcile_waves_and_nothing_else(scenario: Any) -> None:
    account = scenario.component("ServiceAccount", "migration")
    role = scenario.component("Role", "migration")
    binding = scenario.component("RoleBinding", "migration")
    assert role["rules"] == [
        {
            "apiGroups": ["switchyard.io"],
            "resources": ["migrationwaves", "migrationwaves/status"],
            "verbs": ["get", "list", "watch", "patch", "update"],
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": RELEASE}
    ]
    pods = containers(scenario)
    migration_spec = pods["migration"][1]
    assert migration_spec["serviceAccountName"] == account["metadata"]["name"]
    assert migration_spec["automountServiceAccountToken"] is True
    for who, (_, spec) in pods.items():
        if who != "migration":
            assert spec["serviceAccountName"] != account["metadata"]["name"], who
            assert spec["automountServiceAccountToken"] is False, who
    env = env_of(pods["migration"][0])
    assert env["SY_KUBERNETES"]["value"] == "true"


def test_the_migration_service_finds_the_other_apis(scenario: Any) -> None:
    env = env_of(containers(scenario)["migration"][0])
    for other in ("routing", "journal", "connectors", "edge"):
        service = scenario.component("Service", other)
        ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        url = f"http://{service['metadata']['name']}:{ports['http']}"
        assert env[f"SY_{other.upper()}_URL"]["value"] == url


def test_the_service_token_comes_from_a_secret(
    render: Any, rendered_scenarios: dict[str, Any]
) -> None:
    assert "SY_SERVICE_TOKEN" not in env_of(
        containers(rendered_scenarios["default"])["migration"][0]
    )
    existing = env_of(containers(rendered_scenarios["existing-secrets"])["migration"][0])
    assert existing["SY_SERVICE_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "switchyard-wave-token",
        "key": "token",
    }
    rendered = render(
        {**BASE, "migration": {"serviceToken": {"existingSecret": "wave-token", "key": "t"}}}
    )
    env = env_of(containers(rendered)["migration"][0])
    token = env["SY_SERVICE_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "wave-token", "key": "t"}
    for service in ("routing", "edge"):
        assert "SY_SERVICE_TOKEN" not in env_of(containers(rendered)[service][0])


def test_without_the_controller_no_api_rights(render: Any) -> None:
    rendered = render({**BASE, "migration": {"controller": {"enabled": False}}})
    for kind in ("ServiceAccount", "Role", "RoleBinding"):
        assert rendered.find(kind, f"{RELEASE}-migration") is None
    container, spec = containers(rendered)["migration"]
    assert spec["automountServiceAccountToken"] is False
    assert env_of(container)["SY_KUBERNETES"]["value"] == "false"


def test_decommission_exports_land_on_a_writable_volume(
    render: Any, rendered_scenarios: dict[str, Any]
) -> None:
    """The root filesystem is read-only: the evidence exports need a volume of their own,
    a claim when the operator names one (so they outlive the pod), else an emptyDir."""

    def exports_volume(rendered: Any) -> dict[str, Any]:
        container, spec = containers(rendered)["migration"]
        directory = env_of(container)["SY_EXPORT_DIR"]["value"]
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
        assert not mount.get("readOnly")
        (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
        return volume

    assert exports_volume(rendered_scenarios["default"])["emptyDir"] == {"sizeLimit": "10Gi"}
    claimed = render({**BASE, "migration": {"exports": {"existingClaim": "sy-evidence"}}})
    assert exports_volume(claimed)["persistentVolumeClaim"] == {"claimName": "sy-evidence"}
    for service in ("routing", "journal", "edge"):
        assert "SY_EXPORT_DIR" not in env_of(containers(claimed)[service][0])
