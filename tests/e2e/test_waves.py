"""Migrations in waves (issue 6), end to end: 120 simulated chargers of three models (OCPP 1.6 and
2.0.1) on real sockets, three real CSMS peers (legacy, new, and a second new region that starts
refusing authorizations), the whole suite, and a migration service driving the waves.

The pilot (diverse: two chargers of each model, two of them mid-transaction) passes pre-flight
on its shadow run, cuts over without switching a charger mid-transaction, holds its gates while
sessions run on the new CSMS, and is signed off by its owner. The next wave cannot start before;
once it cuts over, its target refuses authorizations, a gate breaks and the wave rolls back on
its own: its chargers answer from legacy again. No session is lost or split between backends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.net import free_port
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess
from sy_devkit.waiting import eventually

MODELS = (("Sim-AC22", "ocpp1.6"), ("Sim-DC50", "ocpp1.6"), ("Sim-201", "ocpp2.0.1"))
FLEET_SIZE = 120
TAG = "WAVE-TAG"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Fleet:
    chargers: dict[str, Any] = field(default_factory=dict)  # id -> ocpp ChargePoint
    models: dict[str, str] = field(default_factory=dict)
    # every session a charger ran: (charger id, charger-side transaction id)
    sessions: list[tuple[str, str]] = field(default_factory=list)

    def of_model(self, model: str) -> list[str]:
        return sorted(c for c, m in self.models.items() if m == model)

    async def boot(self, cid: str) -> None:
        cp, model = self.chargers[cid], self.models[cid]
        if model == "Sim-201":
            await cp.call(
                c201.BootNotification(
                    charging_station={"model": model, "vendor_name": "Switchyard"}, reason="PowerUp"
                )
            )
            await cp.call(
                c201.StatusNotification(
                    timestamp=_now(), connector_status="Available", evse_id=1, connector_id=1
                )
            )
        else:
            await cp.call(
                c16.BootNotification(charge_point_model=model, charge_point_vendor="Switchyard")
            )
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )

    async def authorize(self, cid: str) -> str:
        cp = self.chargers[cid]
        if self.models[cid] == "Sim-201":
            got = await cp.call(c201.Authorize(id_token={"idToken": TAG, "type": "ISO14443"}))
            return str(got.id_token_info["status"])
        got = await cp.call(c16.Authorize(id_tag=TAG))
        return str(got.id_tag_info["status"])

    async def start(self, cid: str) -> int:
        cp = self.chargers[cid]
        started = await cp.call(
            c16.StartTransaction(connector_id=1, id_tag=TAG, meter_start=0, timestamp=_now())
        )
        self.sessions.append((cid, str(started.transaction_id)))
        return int(started.transaction_id)

    async def stop(self, cid: str, transaction_id: int) -> None:
        cp = self.chargers[cid]
        await cp.call(
            c16.MeterValues(
                connector_id=1,
                transaction_id=transaction_id,
                meter_value=[
                    {"timestamp": _now(), "sampledValue": [{"value": "2500", "unit": "Wh"}]}
                ],
            )
        )
        await cp.call(
            c16.StopTransaction(meter_stop=5000, timestamp=_now(), transaction_id=transaction_id)
        )

    async def charge(self, cid: str) -> str:
        """Authorize; when accepted and a 1.6 charger, run a short session."""
        status = await self.authorize(cid)
        if status == "Accepted" and self.models[cid] != "Sim-201":
            await self.stop(cid, await self.start(cid))
        return status


LAST: dict[str, Any] = {}  # the last wave status seen, to say why a wait failed


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    await eventually(check, timeout_s, lambda: f"{what}; last seen {LAST}", every_s=0.2)


@pytest.fixture(scope="module")
async def migration(routed: RunningSuite) -> AsyncIterator[ServiceProcess]:
    """A migration service that drives waves: the service token and where the other APIs are."""
    proc = routed.suite.start_service(
        "migration",
        free_port(),
        SY_SERVICE_TOKEN=TEST_ADMIN_TOKEN,
        SY_ROUTING_URL=routed.api("routing"),
        SY_JOURNAL_URL=routed.api("journal"),
        SY_CONNECTORS_URL=routed.api("connectors"),
        SY_EDGE_URL=routed.api("edge"),
        SY_CONTROLLER_INTERVAL_S="0.3",
    )
    routed.suite.wait_ready(proc)
    yield proc
    proc.proc.terminate()
    proc.proc.wait(10)


def _wave(
    name: str,
    plan: str,
    *,
    target: str,
    rollback: str,
    owner: str,
    order: int,
    selector: dict[str, Any],
    pilot: bool = False,
    window: str = "6s",
) -> dict[str, Any]:
    return {
        "apiVersion": "switchyard.io/v1alpha1",
        "kind": "MigrationWave",
        "metadata": {"name": name, "labels": {"switchyard.io/plan": plan}},
        "spec": {
            "pilot": pilot,
            "order": order,
            "selector": selector,
            "targetBackend": target,
            "rollbackTarget": rollback,
            "successCriteria": {
                "minAvailability": 0.9,
                "minAuthorizationRatio": 0.9,
                "minSessionStartRatio": 0.95,
                "minSessionCompletionRatio": 0.95,
                "maxCallErrorRatio": 0.05,
                "maxShadowDivergences": 0,
                "minSamples": 3,
            },
            "observationWindow": window,
            "gateInterval": "1s",
            "cutoverRate": {"chargersPerSecond": 20, "maxInFlight": 10},
            "preflight": {"lookback": "10m"},
            "signOffOwner": owner,
            "note": f"{name}: e2e",
        },
    }


@pytest.mark.timeout(240)
async def test_pilot_signed_off_then_failing_wave_rolls_back(
    routed: RunningSuite, migration: ServiceProcess
) -> None:
    suffix = uuid.uuid4().hex[:6]
    legacy_name, new_name, eu2_name = f"legacy-{suffix}", f"new-{suffix}", f"neweu2-{suffix}"
    legacy = await CsmsPeer("legacy", first_transaction_id=1000).start()
    new = await CsmsPeer("new", first_transaction_id=500_000).start()
    eu2 = await CsmsPeer("new-eu2", first_transaction_id=900_000).start()
    peers = {legacy_name: legacy, new_name: new, eu2_name: eu2}
    admin = routed.admin_headers
    fleet = Fleet()
    async with AsyncExitStack() as stack:
        for peer in peers.values():
            stack.push_async_callback(peer.stop)
        routing = await stack.enter_async_context(
            httpx.AsyncClient(base_url=routed.api("routing"), headers=admin, timeout=30)
        )
        journal = await stack.enter_async_context(
            httpx.AsyncClient(base_url=routed.api("journal"), headers=admin, timeout=30)
        )
        waves = await stack.enter_async_context(
            httpx.AsyncClient(base_url=migration.api_url, headers=admin, timeout=30)
        )

        # -- backends, the shadow run, the fleet -------------------------------------------------
        for name, peer in peers.items():
            body = {"name": name, "url": peer.url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]}
            assert (await routing.post("/backends", json=body)).status_code == 201
        ids = [f"W{suffix}-{i:03d}" for i in range(FLEET_SIZE)]
        for i, cid in enumerate(ids):
            fleet.models[cid] = MODELS[i % 3][0]
        shadow_run = f"shadow-{suffix}"
        made = await routing.post("/groups", json={"name": shadow_run, "chargers": ids})
        assert made.status_code == 201, made.text
        routed_group = await routing.put(
            f"/routes/groups/{shadow_run}",
            json={
                "primary": legacy_name,
                "shadows": [{"backend": new_name}, {"backend": eu2_name}],
                "reason": "shadow run of both new regions",
            },
        )
        assert routed_group.status_code == 200, routed_group.text
        await asyncio.sleep(0.3)

        async def connect(cid: str) -> None:
            version = dict(MODELS)[fleet.models[cid]]
            cp, _ = await stack.enter_async_context(
                connect_charger(routed.charger_url(cid), cid, version)
            )
            fleet.chargers[cid] = cp
            await fleet.boot(cid)

        for batch in range(0, FLEET_SIZE, 30):
            await asyncio.gather(*(connect(c) for c in ids[batch : batch + 30]))

        async def learned() -> bool:
            found = (await routing.get("/chargers", params={"group": shadow_run})).json()
            return len([c for c in found if c["model"]]) == FLEET_SIZE

        await _eventually(learned, 20, "routing learns every charger's model from its boot")

        # A diverse pilot: two chargers of each model; tagged so later waves leave it out.
        pilot_ids = [c for model, _ in MODELS for c in fleet.of_model(model)[:2]]
        for cid in pilot_ids:
            tagged = await routing.patch(f"/chargers/{cid}", json={"add_tags": ["pilot"]})
            assert tagged.status_code == 200, tagged.text
        owner = f"ops-lead-{suffix}"
        token = await routing.post("/tokens", json={"name": owner, "roles": ["operator"]})
        assert token.status_code == 201, token.text
        owner_headers = {"Authorization": f"Bearer {token.json()['token']}"}

        plan = f"legacy-to-new-{suffix}"
        pilot = _wave(
            f"pilot-{suffix}",
            plan,
            target=new_name,
            rollback=legacy_name,
            owner=owner,
            order=0,
            pilot=True,
            selector={"chargerIds": pilot_ids},
        )
        wave2 = _wave(
            f"dc50-{suffix}",
            plan,
            target=eu2_name,
            rollback=legacy_name,
            owner=owner,
            order=1,
            window="30s",
            selector={
                "groups": [shadow_run],
                "matchLabels": {"model": "Sim-DC50"},
                "matchExpressions": [{"key": "tags", "operator": "NotIn", "values": ["pilot"]}],
            },
        )
        applied = await waves.post("/waves/apply", json=[pilot, wave2])
        assert applied.status_code == 200, applied.text

        async def phase(name: str, wanted: str) -> bool:
            got = (await waves.get(f"/waves/{name}")).json()
            LAST.update(wave=name, status=got["status"])
            return bool(got["status"]["phase"] == wanted)

        pname, wname = pilot["metadata"]["name"], wave2["metadata"]["name"]
        await _eventually(lambda: phase(pname, "Ready"), 30, "the pilot passes pre-flight")
        ready = (await waves.get(f"/waves/{pname}")).json()
        checks = {c["name"]: c["ok"] for c in ready["status"]["preflight"]}
        assert checks == {
            "chargers": True,
            "known": True,
            "exclusive": True,
            "backends": True,
            "shadow_boot": True,
            "credentials": True,
            "divergence": True,
        }
        await _eventually(lambda: phase(wname, "Ready"), 30, "wave 2 passes pre-flight")
        early = await waves.post(f"/waves/{wname}/start", json={"reason": "too soon"})
        assert early.status_code == 409 and pname in early.json()["detail"]

        # -- the pilot: two chargers are charging when the cutover starts ------------------------
        busy = [c for c in pilot_ids if fleet.models[c] == "Sim-AC22"]
        open_tx = {cid: await fleet.start(cid) for cid in busy}
        started = await waves.post(f"/waves/{pname}/start", json={"reason": "pilot go"})
        assert started.status_code == 200, started.text

        async def waiting_for_busy() -> bool:
            got = (await waves.get(f"/waves/{pname}")).json()["status"]
            return sorted(got["waiting"]) == sorted(busy) and len(got["moved"]) == 4

        await _eventually(waiting_for_busy, 15, "the cutover skips chargers in a transaction")
        for cid in busy:  # still on legacy while their transaction runs
            route = (await routing.get(f"/routes/chargers/{cid}")).json()
            assert route["primary"]["name"] == legacy_name
        for cid, tx in open_tx.items():
            await fleet.stop(cid, tx)
            assert tx < 500_000  # legacy's id: the session started and ended there
        await _eventually(lambda: phase(pname, "Observing"), 15, "every pilot charger moved")
        for cid in pilot_ids:
            route = (await routing.get(f"/routes/chargers/{cid}")).json()
            assert route["primary"]["name"] == new_name, route
        # Sessions on the new CSMS while the pilot is observed.
        for _ in range(2):
            statuses = await asyncio.gather(*(fleet.charge(c) for c in pilot_ids))
            assert set(statuses) == {"Accepted"}
        assert all(int(tx) >= 500_000 for cid, tx in fleet.sessions[-8:] if cid in pilot_ids)
        await _eventually(lambda: phase(pname, "Passed"), 30, "the pilot's window holds")
        passed = (await waves.get(f"/waves/{pname}")).json()
        judged = {g["name"]: g["state"] for g in passed["status"]["gates"]}
        assert judged["minAuthorizationRatio"] == "ok" and judged["minSessionStartRatio"] == "ok"
        assert "breach" not in judged.values()

        not_owner = await waves.post(f"/waves/{pname}/signoff", json={"note": "looks fine"})
        assert not_owner.status_code == 403 and owner in not_owner.json()["detail"]
        signed = await waves.post(
            f"/waves/{pname}/signoff",
            headers=owner_headers,
            json={"note": "pilot ok: sessions, billing, support checked"},
        )
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"]["phase"] == "SignedOff"
        assert signed.json()["status"]["signedOffBy"] == owner

        # -- wave 2: its target starts refusing authorizations after pre-flight -----------------
        wave2_ids = (await waves.get(f"/waves/{wname}")).json()["status"]["members"]
        assert len(wave2_ids) == len(fleet.of_model("Sim-DC50")) - 2
        held = wave2_ids[0]
        held_tx = await fleet.start(held)  # a session on legacy that must finish there
        eu2.authorization = "Blocked"
        assert (
            await waves.post(f"/waves/{wname}/start", json={"reason": "wave 2"})
        ).status_code == 200
        rolled_at = 0.0

        async def moved_some() -> bool:
            got = (await waves.get(f"/waves/{wname}")).json()["status"]
            return len(got["moved"]) >= 10 or got["phase"] == "RolledBack"

        await _eventually(moved_some, 15, "wave 2 cuts over")
        moved = (await waves.get(f"/waves/{wname}")).json()["status"]["moved"]
        assert held not in moved
        refused = await asyncio.gather(*(fleet.authorize(c) for c in moved[:6]))
        assert "Blocked" in refused
        t0 = time.monotonic()
        await _eventually(lambda: phase(wname, "RolledBack"), 30, "the breach rolls wave 2 back")
        rolled_at = time.monotonic() - t0
        rolled = (await waves.get(f"/waves/{wname}")).json()
        last = rolled["transitions"][-1]
        assert (last["trigger"], last["actor"]) == ("breach", "migration-controller")
        assert "authorization" in last["reason"] or "divergence" in last["reason"]
        assert rolled["status"]["health"] == "Failing"
        for cid in moved:
            route = (await routing.get(f"/routes/chargers/{cid}")).json()
            assert route["primary"]["name"] == legacy_name, route
        await asyncio.sleep(0.5)
        back = await asyncio.gather(*(fleet.charge(c) for c in moved[:6]))
        assert set(back) == {"Accepted"}, back  # legacy answers again
        await fleet.stop(held, held_tx)
        print(f"\nwave 2 rolled back {rolled_at:.1f}s after the refusals")

        # -- no session lost, none split ---------------------------------------------------------
        async def all_ended() -> bool:
            found = (
                await journal.get(
                    "/sessions", params={"since": "2000-01-01T00:00:00Z", "limit": 10000}
                )
            ).json()
            mine = {
                (s["charger_id"], s["charger_transaction_id"]): s
                for s in found
                if s["charger_id"] in fleet.chargers
            }
            return all(mine.get(k, {}).get("status") == "ended" for k in fleet.sessions)

        await _eventually(all_ended, 20, "the journal holds every session, ended")
        found = (
            await journal.get("/sessions", params={"since": "2000-01-01T00:00:00Z", "limit": 10000})
        ).json()
        mine = {
            (s["charger_id"], s["charger_transaction_id"]): s
            for s in found
            if s["charger_id"] in fleet.chargers
        }
        assert len(mine) == len(fleet.sessions)
        ranges = {legacy_name: 1000, new_name: 500_000, eu2_name: 900_000}
        for cid, tx in fleet.sessions:
            session = mine[(cid, tx)]
            assert session["charger_acknowledged"] and session["energy_wh"] == 5000, session
            # The backend that assigned the id owns the session: it got the start and the stop
            # under that id; any other backend only ever saw its own ids (shadow copies).
            owner = max(
                (n for n, first in ranges.items() if int(tx) >= first), key=lambda n: ranges[n]
            )
            for name, peer in peers.items():
                stops = [
                    p
                    for a, p in peer.history.get(cid, [])
                    if a == "StopTransaction" and p["transaction_id"] == int(tx)
                ]
                assert len(stops) == (1 if name == owner else 0), (cid, tx, name, stops)

        # -- the record: who, when, why; and the estate map -------------------------------------
        trail = [(t["to"], t["actor"]) for t in passed["transitions"]]
        assert trail[:5] == [
            ("Draft", "bootstrap-admin"),
            ("Ready", "migration-controller"),
            ("CuttingOver", "bootstrap-admin"),
            ("Observing", "migration-controller"),
            ("Passed", "migration-controller"),
        ]
        estate = (await waves.get("/estate", params={"window": "1h"})).json()
        assert estate["counts"]["model"]["Sim-DC50"] >= len(fleet.of_model("Sim-DC50"))
        assert estate["counts"]["backend"][new_name] == len(pilot_ids)
