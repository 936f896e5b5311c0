"""The bus is locked down: each service's NATS user publishes and subscribes only where it
belongs, against the same nats-server configuration every test and `switchyard run` use.

Only refusals are probed here: that each service can do what it must is what every other
end-to-end test shows, since the suite's processes run as these users."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import nats
import pytest
from nats.aio.client import Client
from nats.errors import TimeoutError
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from sy_bus import permissions, streams
from sy_devkit.embedded_nats import EmbeddedNats, round_trip
from sy_devkit.suite import SERVICES

ALL = frozenset(SERVICES)

# A subject each service might be tempted to publish on, and who owns it (may publish).
PUBLISH_OWNERS: dict[str, frozenset[str]] = {
    "sy.up.7.CP-PROBE": frozenset({"edge"}),
    "sy.down.CP-PROBE": frozenset({"connectors"}),
    "sy.presence.CP-PROBE": frozenset({"edge"}),
    "sy.ctl.CP-PROBE": frozenset({"edge"}),
    "sy.frames.CP-PROBE.from_charger": frozenset({"edge"}),
    "sy.frames.CP-PROBE.to_charger": frozenset({"edge"}),
    "sy.frames.CP-PROBE.to_backend": frozenset({"connectors"}),
    "sy.frames.CP-PROBE.from_backend": frozenset({"connectors"}),
    "sy.events.probe.CP-PROBE": frozenset({"journal", "connectors"}),
    "sy.events.wave_transition.CP-PROBE": frozenset({"journal", "connectors", "migration"}),
    "$KV.sy-routes.default": frozenset({"routing"}),
    "$KV.sy-api-tokens.forged": frozenset({"routing"}),
    "$KV.sy-presence.CP-PROBE": frozenset({"edge", "connectors"}),  # crashed edges' entries
    "sy.audit.routing": frozenset({"routing"}),
    "sy.audit.edge": frozenset({"edge"}),
    "sy.outbox.legacy.CP-PROBE": frozenset({"connectors"}),
    "$KV.sy-state.CP-PROBE": frozenset({"connectors"}),
    "$KV.sy-transactions.CP-PROBE": frozenset({"connectors"}),
    "$KV.sy-shards.shard.7": frozenset({"connectors"}),
    "sy.other.anything": frozenset(),
}

# Subscriptions each service may open (anything else is refused).
SUBSCRIBE_OWNERS: dict[str, frozenset[str]] = {
    "sy.up.>": frozenset({"connectors"}),
    "sy.up.7.*": frozenset({"connectors"}),
    "sy.presence.*": frozenset({"connectors"}),
    "sy.down.CP-PROBE": frozenset({"edge"}),
    "sy.ctl.>": frozenset({"edge"}),
    "sy.frames.>": frozenset(),
    "sy.events.>": frozenset(),
    "sy.audit.>": frozenset(),
    "$KV.sy-api-tokens.>": frozenset(),
    "_INBOX.>": frozenset(),
    "_INBOX.edge.>": frozenset({"edge"}),
    ">": frozenset(),
}


@dataclass
class Probe:
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    async def refused(self, timeout_s: float = 2.0) -> str | None:
        """The permissions violation the server reported, if one arrives within the wait."""
        await round_trip(self.nc)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            for exc in self.errors:
                if "permissions violation" in str(exc).lower():
                    self.errors.clear()
                    return str(exc)
            await asyncio.sleep(0.02)
        return None


@asynccontextmanager
async def connected_as(server: EmbeddedNats, service: str) -> AsyncIterator[Probe]:
    probe = Probe(nc=Client())

    async def on_error(exc: Exception) -> None:
        probe.errors.append(exc)

    probe.nc = await nats.connect(
        server.connect_url(service),
        error_cb=on_error,
        inbox_prefix=permissions.inbox_prefix(service).encode(),
        allow_reconnect=False,
    )
    try:
        yield probe
    finally:
        await probe.nc.close()


def _cases(owners: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    return [(s, subject) for s in SERVICES for subject, own in owners.items() if s not in own]


@pytest.mark.parametrize(("service", "subject"), _cases(PUBLISH_OWNERS))
async def test_a_service_cannot_publish_where_it_does_not_belong(
    nats_server: EmbeddedNats, service: str, subject: str
) -> None:
    async with connected_as(nats_server, service) as probe:
        await probe.nc.publish(subject, b"{}")
        refusal = await probe.refused()
    assert refusal is not None, f"{service} published on {subject}"
    assert f'publish to "{subject.lower()}"' in refusal.lower()


@pytest.mark.parametrize(("service", "subject"), _cases(SUBSCRIBE_OWNERS))
async def test_a_service_cannot_listen_where_it_does_not_belong(
    nats_server: EmbeddedNats, service: str, subject: str
) -> None:
    async with connected_as(nats_server, service) as probe:
        await probe.nc.subscribe(subject)
        refusal = await probe.refused()
    assert refusal is not None, f"{service} subscribed to {subject}"
    assert "subscription" in refusal.lower()


async def test_nothing_but_the_connectors_answers_charger_calls(
    nats_server: EmbeddedNats,
) -> None:
    """An edge (or any other service) posing as the connectors gets no sy.up.* subscription,
    so a charger's CALL can never be answered by it."""
    for service in sorted(ALL - {"connectors"}):
        async with connected_as(nats_server, service) as probe:
            await probe.nc.subscribe("sy.up.>", cb=_never)
            assert await probe.refused() is not None, service


async def _never(msg: object) -> None:
    raise AssertionError("a refused subscription received a message")


@pytest.mark.parametrize("service", sorted(ALL - {"journal"}))
async def test_only_the_journal_reads_captured_frames(
    nats_server: EmbeddedNats, service: str
) -> None:
    async with connected_as(nats_server, service) as probe:
        js = probe.nc.jetstream(timeout=1)
        with pytest.raises(TimeoutError):  # the request is dropped by the server
            await js.pull_subscribe("sy.frames.>", stream="SY_FRAMES")
        assert await probe.refused() is not None


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_deletes_or_purges_what_is_stored(
    nats_server: EmbeddedNats, service: str
) -> None:
    async with connected_as(nats_server, service) as probe:
        js = probe.nc.jetstream(timeout=1)
        with pytest.raises(TimeoutError):
            await js.purge_stream("SY_AUDIT")
        assert await probe.refused() is not None
        with pytest.raises(TimeoutError):
            await js.delete_stream("SY_FRAMES")
        assert await probe.refused() is not None


@pytest.mark.parametrize("service", SERVICES)
async def test_no_service_creates_or_changes_a_stream_or_bucket(
    nats_server: EmbeddedNats, service: str
) -> None:
    """Only the admin provisions (`python -m sy_bus.provision`): a service's user can neither
    add a stream or bucket nor shorten a stream's retention."""
    admin = await nats.connect(nats_server.url)
    try:
        admin_js = admin.jetstream()
        await streams.provision(admin_js)
        async with connected_as(nats_server, service) as probe:
            js = probe.nc.jetstream(timeout=1)
            with pytest.raises(TimeoutError):
                await js.add_stream(StreamConfig(name="SY_INTRUDER", subjects=["sy.intruder.>"]))
            assert await probe.refused() is not None
            shorter = dataclasses.replace(streams.stream_config(streams.AUDIT), max_age=3600.0)
            with pytest.raises(TimeoutError):
                await js.update_stream(shorter)
            assert await probe.refused() is not None
            with pytest.raises(TimeoutError):
                await js.create_key_value(bucket="sy-intruder")
            assert await probe.refused() is not None
        audit = await admin_js.stream_info(streams.AUDIT.name)
        assert audit.config.max_age == streams.AUDIT.max_age_s
        for name in ("SY_INTRUDER", "KV_sy-intruder"):
            with pytest.raises(NotFoundError):
                await admin_js.stream_info(name)
    finally:
        await admin.close()


async def _hello(port: int, credentials: dict[str, str]) -> str:
    """The server's answer to a CONNECT (raw protocol: nats-py leaks its socket on refusal)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        connect = {"verbose": False, "pedantic": False, "name": "probe", **credentials}
        writer.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 5)).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_anonymous_and_wrong_passwords_are_refused(nats_server: EmbeddedNats) -> None:
    edge_password = nats_server.passwords["edge"]
    for credentials in (
        {},
        {"user": "sy-edge", "pass": edge_password + "x"},
        {"user": "sy-routing", "pass": edge_password},
    ):
        answer = await _hello(nats_server.port, credentials)
        assert answer == "-ERR 'Authorization Violation'", credentials
    assert await _hello(nats_server.port, {"user": "sy-edge", "pass": edge_password}) == "PONG"


async def test_the_admin_user_is_unrestricted(nats_server: EmbeddedNats) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.subscribe("sy.up.CP-ADMIN")
        await nc.publish("sy.up.CP-ADMIN", b"hello")
        assert (await sub.next_msg(timeout=2)).data == b"hello"
    finally:
        await nc.close()


def test_the_services_processes_get_their_own_users(nats_server: EmbeddedNats) -> None:
    envs: dict[str, dict[str, str]] = {s: nats_server.service_env(s) for s in SERVICES}
    assert {env["SY_NATS_USER"] for env in envs.values()} == {f"sy-{s}" for s in SERVICES}
    assert len({env["SY_NATS_PASSWORD"] for env in envs.values()}) == len(SERVICES)
