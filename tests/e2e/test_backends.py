"""Several backends at once (issue 4), over real sockets with three real CSMS peers:
shadows with their own transaction ids and divergence events, hot cutover and rollback while a
transaction runs (no reconnect, the transaction finishes where it started, the new primary gets
the boot and statuses replayed), and a shadow's command refused by its ACL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import orjson
import pytest
from nats.js.api import DeliverPolicy
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from sy_bus import EffectiveRoute, streams, subjects
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.waiting import eventually


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Backends:
    """Three CSMS peers registered as backends, and a way to route a charger among them."""

    def __init__(self, suite: RunningSuite, peers: dict[str, CsmsPeer]) -> None:
        self.suite = suite
        self.peers = peers
        self.nc: Any = None

    async def route(self, charger_id: str, primary: str, *shadows: str) -> None:
        """Route the charger through the routing API, and wait until the data plane's table
        (the `sy-routes` KV key the connectors watch) shows it."""
        body = {
            "primary": primary,
            "shadows": [{"backend": s} for s in shadows],
            "reason": "e2e",
        }
        async with self._api() as api:
            done = await api.put(f"/routes/chargers/{charger_id}", json=body)
            assert done.status_code == 200, done.text
        await self._published(charger_id, primary, list(shadows))

    async def latest_version(self) -> int:
        async with self._api() as api:
            versions = (await api.get("/versions", params={"limit": 1})).json()
        return int(versions[0]["id"])

    async def restore(self, version: int, charger_id: str, primary: str) -> None:
        async with self._api() as api:
            done = await api.post(f"/versions/{version}/restore", json={"reason": "rollback"})
            assert done.status_code == 200, done.text
        await self._published(charger_id, primary, None)

    def _api(self) -> httpx.AsyncClient:
        suite = self.suite
        return httpx.AsyncClient(base_url=suite.api("routing"), headers=suite.admin_headers)

    async def _published(self, charger_id: str, primary: str, shadows: list[str] | None) -> None:
        kv = await self.nc.jetstream().key_value(streams.ROUTES.name)
        deadline = time.monotonic() + 5
        while True:
            try:
                entry = await kv.get(streams.route_key(charger_id))
                route = EffectiveRoute.from_bytes(entry.value or b"")
                if route.primary.name == primary and (
                    shadows is None or [s.name for s in route.shadows] == shadows
                ):
                    break
            except Exception:  # not published yet
                pass
            assert time.monotonic() < deadline, "route not published within 5 s"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the connectors apply it right after the KV update


@pytest.fixture(scope="module")
async def backends(routed: RunningSuite) -> AsyncIterator[Backends]:
    suffix = uuid.uuid4().hex[:6]
    peers = {
        f"legacy-{suffix}": CsmsPeer("legacy", first_transaction_id=1000),
        f"new-{suffix}": CsmsPeer("new", first_transaction_id=5000),
        f"observer-{suffix}": CsmsPeer(
            "observer", first_transaction_id=9000, authorization="Blocked"
        ),
    }
    for peer in peers.values():
        await peer.start()
    async with httpx.AsyncClient(
        base_url=routed.api("routing"), headers=routed.admin_headers
    ) as api:
        for name, peer in peers.items():
            body = {"name": name, "url": peer.url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]}
            assert (await api.post("/backends", json=body)).status_code == 201
    found = Backends(routed, peers)
    found.nc = await nats.connect(routed.nats_url)
    yield found
    await found.nc.close()
    for peer in peers.values():
        await peer.stop()


def _names(backends: Backends) -> tuple[str, str, str]:
    legacy, new, observer = backends.peers
    return legacy, new, observer


def _actions(peer: CsmsPeer, charger_id: str) -> list[str]:
    """What the charger sent this backend, over every connection the gateway opened to it."""
    return [action for action, _ in peer.history.get(charger_id, [])]


async def _divergences(nc: Any, charger_id: str, count: int) -> list[dict[str, Any]]:
    sub = await nc.jetstream().subscribe(
        subjects.events("shadow_divergence", charger_id),
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.ALL,
    )
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 10
        while len(found) < count and time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:
                continue
            found.append(orjson.loads(msg.data))
    finally:
        await sub.unsubscribe()
    return found


async def test_shadow_gets_every_call_with_its_own_transaction_ids(
    backends: Backends, charger_id: str
) -> None:
    legacy, new, observer = _names(backends)
    await backends.route(charger_id, legacy, new, observer)
    url = backends.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, conn):
        await charger.call(c16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        auth = await charger.call(c16.Authorize(id_tag="TAG"))
        start = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="TAG", meter_start=0, timestamp=_now())
        )
        tx = start.transaction_id
        await charger.call(
            c16.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[{"timestamp": _now(), "sampledValue": [{"value": "10"}]}],
            )
        )
        await charger.call(c16.StopTransaction(meter_stop=10, timestamp=_now(), transaction_id=tx))
    assert auth.id_tag_info["status"] == "Accepted"  # the primary's answer, not the observer's
    assert 1000 <= tx < 5000  # legacy's transaction id
    expected = [
        "BootNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    assert _actions(backends.peers[legacy], charger_id) == expected
    for shadow in (new, observer):
        await eventually(lambda s=shadow: _actions(backends.peers[s], charger_id) == expected)
    # The shadow's own id for the same transaction, consistently, on every later message.
    new_session = backends.peers[new].sessions[charger_id]
    shadow_ids = {p["transaction_id"] for a, p in new_session.received if a in expected[3:]}
    assert len(shadow_ids) == 1 and next(iter(shadow_ids)) >= 5000
    # Only the primary's answers reached the charger.
    answers = [f for f in conn.received if f.startswith("[3,")]
    assert answers == [f for f in backends.peers[legacy].connections[charger_id].sent]
    # The observer blocks every id tag: its Authorize (and the start's idTagInfo) diverge.
    events = await _divergences(backends.nc, charger_id, count=2)
    by_action = {e["action"]: e for e in events if e["shadow"] == observer}
    assert "Authorize" in by_action
    difference = by_action["Authorize"]["fields"][0]
    assert difference == {"path": "idTagInfo.status", "primary": "Accepted", "shadow": "Blocked"}
    assert by_action["Authorize"]["schema_version"] == 1
    assert all(e["shadow"] != new for e in events)  # same answers: no divergence


async def test_cutover_and_rollback_during_a_transaction_1_6(
    backends: Backends, charger_id: str
) -> None:
    legacy, new, _ = _names(backends)
    await backends.route(charger_id, legacy)
    url = backends.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, conn):
        await charger.call(c16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await charger.call(
            c16.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        )
        first = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="A", meter_start=0, timestamp=_now())
        )
        before_cutover = await backends.latest_version()
        await backends.route(charger_id, new)  # cutover mid-transaction
        await eventually(lambda: _actions(backends.peers[new], charger_id)[:2]
                          == ["BootNotification", "StatusNotification"])  # fmt: skip
        meter = [{"timestamp": _now(), "sampledValue": [{"value": "5"}]}]
        await charger.call(
            c16.MeterValues(connector_id=1, transaction_id=first.transaction_id, meter_value=meter)
        )
        await charger.call(
            c16.StopTransaction(meter_stop=5, timestamp=_now(), transaction_id=first.transaction_id)
        )
        await charger.call(c16.Heartbeat())
        second = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="B", meter_start=5, timestamp=_now())
        )
        await backends.restore(before_cutover, charger_id, legacy)  # roll back: second runs
        await charger.call(
            c16.StopTransaction(
                meter_stop=9, timestamp=_now(), transaction_id=second.transaction_id
            )
        )
        await charger.call(c16.Heartbeat())
        assert conn.ws.close_code is None  # the charger's socket never dropped
    legacy_actions = _actions(backends.peers[legacy], charger_id)
    new_actions = _actions(backends.peers[new], charger_id)
    assert 1000 <= first.transaction_id < 5000 and second.transaction_id >= 5000
    # The first transaction finished on legacy, the second on new (invariant 6).
    assert legacy_actions[:5] == [
        "BootNotification", "StatusNotification", "StartTransaction", "MeterValues",
        "StopTransaction",
    ]  # fmt: skip
    assert new_actions[:4] == [
        "BootNotification",
        "StatusNotification",
        "Heartbeat",
        "StartTransaction",
    ]
    assert new_actions[4] == "StopTransaction"
    assert "MeterValues" not in new_actions
    # After the rollback legacy got the replay and then the heartbeat.
    assert legacy_actions[5:] == ["BootNotification", "StatusNotification", "Heartbeat"]
    assert backends.peers[legacy].connects[charger_id] == 2  # back again after the rollback
    assert backends.peers[new].connects[charger_id] == 1


async def test_cutover_during_a_transaction_2_0_1(backends: Backends, charger_id: str) -> None:
    legacy, new, _ = _names(backends)
    await backends.route(charger_id, legacy)
    url = backends.suite.charger_url(charger_id)
    tx = {"transactionId": "T-" + charger_id}
    async with connect_charger(url, charger_id, "ocpp2.0.1") as (charger, _):
        await charger.call(
            c201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        await charger.call(
            c201.TransactionEvent(
                event_type="Started",
                timestamp=_now(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info=tx,
            )
        )
        await backends.route(charger_id, new)
        await charger.call(
            c201.TransactionEvent(
                event_type="Ended",
                timestamp=_now(),
                trigger_reason="StopAuthorized",
                seq_no=1,
                transaction_info=tx,
            )
        )
        await charger.call(c201.Heartbeat())
    history = backends.peers[legacy].history[charger_id]
    legacy_events = [p["event_type"] for a, p in history if a == "TransactionEvent"]
    assert legacy_events == ["Started", "Ended"]
    assert _actions(backends.peers[new], charger_id) == ["BootNotification", "Heartbeat"]


async def test_shadow_commands_are_refused_by_its_acl(backends: Backends, charger_id: str) -> None:
    legacy, new, _ = _names(backends)
    await backends.route(charger_id, legacy, new)
    url = backends.suite.charger_url(charger_id)
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, _):
        await charger.call(c16.Heartbeat())
        shadow = await backends.peers[new].wait_for(charger_id)
        with pytest.raises(Exception) as refused:
            await shadow.call(c16.RemoteStartTransaction(id_tag="X"), suppress=False)
        assert "may not send RemoteStartTransaction" in str(refused.value)
        primary = await backends.peers[legacy].wait_for(charger_id)
        accepted = await primary.call(c16.RemoteStartTransaction(id_tag="Y"))
        assert accepted.status == "Accepted"
        assert charger.commands == [("RemoteStartTransaction", {"id_tag": "Y"})]


async def test_primary_down_while_charging_stores_and_forwards_in_order(
    backends: Backends, charger_id: str
) -> None:
    legacy, _, _ = _names(backends)
    peer = backends.peers[legacy]
    await backends.route(charger_id, legacy)
    url = backends.suite.charger_url(charger_id)
    meter = [{"timestamp": _now(), "sampledValue": [{"value": "7"}]}]
    async with connect_charger(url, charger_id, "ocpp1.6") as (charger, conn):
        await charger.call(c16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await charger.call(c16.Authorize(id_tag="KNOWN"))
        running = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="KNOWN", meter_start=0, timestamp=_now())
        )
        port = peer.port
        await peer.stop()  # the primary goes down mid-transaction
        tx = running.transaction_id
        for _ in range(2):
            await charger.call(
                c16.MeterValues(connector_id=1, transaction_id=tx, meter_value=meter)
            )
        await charger.call(c16.StopTransaction(meter_stop=7, timestamp=_now(), transaction_id=tx))
        beat = await charger.call(c16.Heartbeat())  # answered by the gateway
        cached = await charger.call(c16.Authorize(id_tag="KNOWN"))
        unknown = await charger.call(c16.Authorize(id_tag="NEVER-SEEN"))
        offline = await charger.call(
            c16.StartTransaction(connector_id=1, id_tag="KNOWN", meter_start=7, timestamp=_now())
        )
        local_tx = offline.transaction_id
        await charger.call(
            c16.MeterValues(connector_id=1, transaction_id=local_tx, meter_value=meter)
        )
        await peer.start(port)  # back
        # The five stored CALLs arrive once the backend is back.
        await eventually(lambda: len(_actions(peer, charger_id)) >= 3 + 5, within_s=20)
        # Live again: the charger still uses the local id; the backend sees its own.
        await charger.call(
            c16.StopTransaction(meter_stop=9, timestamp=_now(), transaction_id=local_tx)
        )
        assert conn.ws.close_code is None
    assert beat.current_time
    assert cached.id_tag_info["status"] == "Accepted"  # the backend's earlier decision
    assert unknown.id_tag_info["status"] == "Invalid"
    history = peer.history[charger_id]
    actions = [a for a, _ in history]
    assert actions[:3] == ["BootNotification", "Authorize", "StartTransaction"]
    delivered = [a for a in actions[3:] if a != "StatusNotification"]
    assert delivered == [
        "MeterValues",
        "MeterValues",
        "StopTransaction",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]  # fmt: skip  -- in order, none twice
    answers = [f for f in peer.connections[charger_id].sent if '"transactionId"' in f]
    assert len(answers) == 1  # one StartTransaction answered on the new connection: the stored one
    after = [
        p.get("transaction_id") for a, p in history[3:] if a in ("MeterValues", "StopTransaction")
    ]
    assert after[:3] == [tx, tx, tx]
    assert local_tx not in after  # the local id never reached the backend
    assert after[3] == after[4] and after[3] > tx  # the backend's own id for the offline start
