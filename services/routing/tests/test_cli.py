"""The `switchyard` commands for backends, routes, the fleet, groups and versions, against the
routing service served over HTTP on a free port (real NATS and Postgres behind it).

The commands run in-process (`sy_cli.main.main`) rather than as subprocesses: the same code and
the same HTTP calls, without paying the interpreter start-up for every command.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from sy_cli.main import main
from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.net import free_port
from sy_routing.app import build_app
from sy_routing.settings import RoutingSettings


@pytest.fixture
def routing_url(
    nats_server: EmbeddedNats, database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    port = free_port()
    app = build_app(RoutingSettings(nats_url=nats_server.url, database_url=database))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="routing-http", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", headers=headers).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        monkeypatch.setenv("SY_ROUTING_URL", url)
        monkeypatch.setenv("SY_STATE_DIR", "/nonexistent")
        monkeypatch.setenv("SY_API_TOKEN", TEST_ADMIN_TOKEN)
        yield url
    finally:
        server.should_exit = True
        thread.join(15)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(routing_url: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


Cli = Callable[..., Result]


def ok(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_migration_wave_from_the_command_line(cli: Cli, unique: str) -> None:
    legacy, new = f"legacy-{unique}", f"new-{unique}"
    ok(cli, "backend", "add", legacy, "--url", "wss://legacy.example/ocpp", "--ocpp", "1.6")
    added = ok(
        cli, "backend", "add", new, "--url", "wss://new.example/ocpp16",
        "--url-for", "2.0.1=wss://new.example/ocpp201", "--basic-user", "gw",
        "--password-ref", "env:NEW_PASSWORD", "--connect-rate", "20", "--reason", "new CSMS",
    )  # fmt: skip
    assert "basic gw" in added and "ocpp2.0.1=wss://new.example/ocpp201" in added
    shown = json.loads(ok(cli, "backend", "show", new, "--json"))
    assert (shown["auth"]["password_ref"], shown["connect_rate_per_s"]) == ("env:NEW_PASSWORD", 20)
    updated = json.loads(ok(cli, "backend", "update", new, "--call-timeout", "12", "--json"))
    assert (updated["call_timeout_s"], updated["auth"]["username"]) == (12, "gw")  # kept

    ok(cli, "route", "default", legacy, "--reason", "today")
    cp = f"CP-{unique}"
    ok(cli, "fleet", "add", cp, "site=Berlin", "--reason", "inventory")
    tagged = ok(cli, "fleet", "tag", cp, "criticality=high", "tags+=pilot")
    assert "high" in tagged and "pilot" in tagged
    group = ok(
        cli, "group", "create", f"wave-{unique}", "--where", "site=Ber*", "--where", "tag=pilot"
    )
    assert f"members: {cp}" in group
    before = json.loads(ok(cli, "route", "versions", "--json", "--limit", "1"))[0]["id"]

    routed = ok(cli, "route", "group", f"wave-{unique}", "--primary", new, "--shadow", legacy,
                "--allow", f"{legacy}=TriggerMessage", "--reason", "wave 1")  # fmt: skip
    assert new in routed and legacy in routed
    seen = json.loads(ok(cli, "route", "show", cp, "--json"))
    assert (seen["source"], seen["primary"]["name"]) == ("group", new)
    assert seen["shadows"][0]["commands"] == ["TriggerMessage"]
    listed = json.loads(ok(cli, "fleet", "list", "--group", f"wave-{unique}", "--json"))
    assert [c["charger_id"] for c in listed] == [cp]
    assert f"group wave-{unique}" in ok(cli, "route", "list")

    rolled = ok(cli, "route", "restore", str(before), "--reason", "rollback")
    assert f"restored version {before}" in rolled and "1 charger route(s) changed" in rolled
    back = json.loads(ok(cli, "route", "show", cp, "--json"))
    assert (back["source"], back["primary"]["name"]) == ("default", legacy)
    versions = ok(cli, "route", "versions")
    assert "table.restored" in versions and "rollback" in versions


def test_command_line_mistakes_are_one_sentence(cli: Cli, unique: str) -> None:
    both = cli("group", "create", f"g-{unique}", "--where", "vendor=A", "--chargers", "CP1")
    assert both.returncode == 1 and "not both" in both.stderr
    secret = cli("backend", "add", f"b-{unique}", "--url", "wss://b.example",
                 "--basic-user", "u", "--password-ref", "hunter2")  # fmt: skip
    assert secret.returncode == 1 and "env:NAME" in secret.stderr
    assert "hunter2" not in secret.stderr
    acl = cli("route", "set", "CP1", "--primary", "x", "--allow", "y=Reset")
    assert acl.returncode == 1 and "not on this route" in acl.stderr
    assert "Traceback" not in both.stderr + secret.stderr + acl.stderr
