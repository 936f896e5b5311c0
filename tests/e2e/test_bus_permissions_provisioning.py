"""Streams and buckets are the NATS admin's to create: `python -m sy_bus.provision` creates or
updates every one and says what it did, a service user cannot run it, and a service started
with its own user on an unprovisioned NATS stops with one sentence saying what to run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from sy_bus import streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.net import free_port
from sy_platform import ServiceSettings
from sy_platform.runtime import provisions_itself

NAMES = [
    *(f"stream {s.name}" for s in streams.STREAMS),
    *(f"bucket {b.name}" for b in streams.BUCKETS),
]
OWN = ("SY_NATS_USER", "SY_NATS_PASSWORD", "SY_NATS_TOKEN", "SY_NATS_CREDS")


@pytest.fixture
def fresh_nats() -> Iterator[EmbeddedNats]:
    """A NATS of its own, locked down like production, with nothing provisioned yet."""
    with tempfile.TemporaryDirectory(prefix="sy-provision-") as tmp:
        server = EmbeddedNats(Path(tmp)).start()
        try:
            yield server
        finally:
            server.stop()


def _provision(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in OWN}
    return subprocess.run(
        [sys.executable, "-m", "sy_bus.provision"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _said(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert run.returncode == 0, run.stderr
    return dict(line.split(": ", 1) for line in run.stdout.splitlines())


async def test_provisioning_creates_then_updates_then_leaves_alone(
    fresh_nats: EmbeddedNats,
) -> None:
    admin_env = {
        "SY_NATS_URL": fresh_nats.plain_url,
        "SY_NATS_USER": "sy-admin",
        "SY_NATS_PASSWORD": fresh_nats.passwords["sy-admin"],
    }
    first = _provision(**admin_env)
    assert _said(first) == dict.fromkeys(NAMES, "created")
    assert fresh_nats.passwords["sy-admin"] not in first.stdout + first.stderr

    # Someone shortened the audit trail's retention and changed a bucket's history.
    nc = await nats.connect(fresh_nats.url)
    try:
        js = nc.jetstream()
        audit = (await js.stream_info(streams.AUDIT.name)).config
        audit.max_age = 3600.0
        await js.update_stream(audit)
        routes = (await js.stream_info(streams.bucket_stream(streams.ROUTES.name))).config
        routes.max_msgs_per_subject = 5
        await js.update_stream(routes)

        second = _said(_provision(SY_NATS_URL=fresh_nats.url))  # credentials in the URL
        assert second.pop(f"stream {streams.AUDIT.name}") == "updated (max_age)"
        assert second.pop(f"bucket {streams.ROUTES.name}") == "updated (max_msgs_per_subject)"
        assert set(second.values()) == {"unchanged"}
        assert (await js.stream_info(streams.AUDIT.name)).config.max_age == (
            streams.AUDIT.max_age_s
        )
        assert await streams.missing(js) == []
    finally:
        await nc.close()
    assert set(_said(_provision(**admin_env)).values()) == {"unchanged"}


def test_a_service_user_cannot_provision(fresh_nats: EmbeddedNats) -> None:
    run = _provision(SY_NATS_URL=fresh_nats.plain_url, **fresh_nats.service_env("routing"))
    assert run.returncode == 1
    # The server's refusal is logged as it comes, then the one-line verdict.
    assert "permissions violation" in run.stderr
    verdict = run.stderr.splitlines()[-1]
    assert verdict.startswith("bus provisioning failed: ")
    assert "NATS admin user" in verdict
    assert fresh_nats.passwords["routing"] not in run.stdout + run.stderr


def test_a_service_on_an_unprovisioned_bus_says_what_to_run(fresh_nats: EmbeddedNats) -> None:
    env = {k: v for k, v in os.environ.items() if k not in OWN}
    env |= fresh_nats.service_env("routing")
    env |= {
        "SY_NATS_URL": fresh_nats.plain_url,
        "SY_HTTP_PORT": str(free_port()),
        "SY_LOG_FORMAT": "text",
        # Never reached: the bus is checked first.
        "SY_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    }
    run = subprocess.run(
        [sys.executable, "-m", "sy_routing", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3  # uvicorn's start-up failure
    output = run.stdout + run.stderr
    # One log line of its own (the traceback after it repeats it).
    (line,) = [line for line in output.splitlines() if "sy_platform.runtime: NATS has no" in line]
    assert line.startswith("ERROR")
    for name in NAMES:
        assert name in line
    assert "run `python -m sy_bus.provision` as the NATS admin user" in line


def test_only_the_admin_or_an_unlocked_nats_falls_back_to_provisioning() -> None:
    def settings(url: str, **more: str) -> ServiceSettings:
        return ServiceSettings(nats_url=url, **more)  # type: ignore[arg-type]

    assert provisions_itself(settings("nats://127.0.0.1:4222"))
    assert provisions_itself(settings("nats://sy-admin:pw@127.0.0.1:4222"))
    assert provisions_itself(settings("nats://127.0.0.1:4222", nats_user="sy-admin"))
    assert not provisions_itself(settings("nats://127.0.0.1:4222", nats_user="sy-edge"))
    assert not provisions_itself(settings("nats://sy-edge:pw@127.0.0.1:4222"))
    assert not provisions_itself(settings("nats://a:4222,nats://sy-edge:pw@b:4222"))
    assert not provisions_itself(settings("nats://127.0.0.1:4222", nats_token="t"))
