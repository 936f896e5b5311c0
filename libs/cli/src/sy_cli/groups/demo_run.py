"""`switchyard demo` (`make demo`): watch a pilot and a wave, start to finish, on this machine.

It starts the whole suite (embedded NATS and Postgres in a temporary directory), two CSMS peers
("legacy" and "new"), a simulated fleet of three charger models, and a migration plan: the
shadow run, a pilot of two chargers per model, then a wave of the rest. Progress is printed as
the migration service moves each wave through its phases. Nothing is left behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from ocpp.v16 import call as c16
from ocpp.v201 import call as c201

from sy_cli.http import CliError
from sy_devkit import SERVICES, EmbeddedNats, EmbeddedPostgres, Suite, free_port
from sy_devkit.peers import CsmsPeer, connect_charger

MODELS = (("Acme", "AC22", "ocpp1.6"), ("Volt", "DC50", "ocpp1.6"), ("Nova", "X201", "ocpp2.0.1"))


def _say(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


def run_demo(size: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="sy-demo-"))
    work.chmod(0o755)
    token = "sy-demo-" + secrets.token_urlsafe(16)
    nats = pg = suite = None
    try:
        _say(f"starting NATS, Postgres and the five services (logs in {work}/logs) ...")
        nats = EmbeddedNats(work / "nats", free_port()).start()
        pg = EmbeddedPostgres(work / "pg", free_port()).start()
        suite = Suite(
            nats_url=nats.plain_url,
            nats_admin_url=nats.url,
            database_url=pg.create_database("switchyard"),
            log_dir=work / "logs",
            service_env={n: nats.service_env(n) for n in SERVICES},
        )
        suite.env = {
            "SY_LOG_FORMAT": "text",
            "SY_BOOTSTRAP_TOKEN_SHA256": hashlib.sha256(token.encode()).hexdigest(),
        }
        suite.migrate()
        ports = {name: free_port() for name in SERVICES}
        ocpp_port = free_port()
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        started = []
        for name in SERVICES:
            extra = {}
            if name == "migration":
                extra = {
                    "SY_SERVICE_TOKEN": token,
                    "SY_ROUTING_URL": urls["routing"],
                    "SY_JOURNAL_URL": urls["journal"],
                    "SY_CONNECTORS_URL": urls["connectors"],
                    "SY_EDGE_URL": urls["edge"],
                    "SY_CONTROLLER_INTERVAL_S": "0.5",
                    "SY_EXPORT_DIR": str(work / "exports"),
                }
            started.append(
                suite.start_service(
                    name, ports[name], ocpp_port=ocpp_port if name == "edge" else None, **extra
                )
            )
        for service in started:
            suite.wait_ready(service)
        _say("suite ready: " + ", ".join(f"{n} {u}" for n, u in urls.items()))
        return asyncio.run(_story(urls, ocpp_port, token, size))
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    finally:
        if suite is not None:
            suite.stop()
        if pg is not None:
            pg.stop()
        if nats is not None:
            nats.stop()
        shutil.rmtree(work, ignore_errors=True)


async def _watch(api: httpx.AsyncClient, name: str, until: set[str], timeout_s: float = 120) -> str:
    seen = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = (await api.get(f"/waves/{name}")).json()["status"]
        line = (
            f"wave {name:<8} {status['phase']:<11} {status['progress']:<13} "
            f"health {status['health']:<8} {status.get('message', '')[:80]}"
        )
        if line != seen:
            _say(line)
            seen = line
        if status["phase"] in until:
            return str(status["phase"])
        await asyncio.sleep(0.5)
    raise CliError(f"wave {name} did not reach {', '.join(sorted(until))} in {timeout_s:.0f}s")


async def _story(urls: dict[str, str], ocpp_port: int, token: str, size: int) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncExitStack() as stack:
        legacy = await CsmsPeer("legacy", first_transaction_id=1000).start()
        new = await CsmsPeer("new", first_transaction_id=500_000).start()
        stack.push_async_callback(legacy.stop)
        stack.push_async_callback(new.stop)
        routing = await stack.enter_async_context(
            httpx.AsyncClient(base_url=urls["routing"], headers=headers, timeout=30)
        )
        waves = await stack.enter_async_context(
            httpx.AsyncClient(base_url=urls["migration"], headers=headers, timeout=30)
        )
        _say("registering backends 'legacy' and 'new'; shadow run: legacy answers, new gets copies")
        for name, peer in (("legacy", legacy), ("new", new)):
            await routing.post(
                "/backends",
                json={"name": name, "url": peer.url, "ocpp_versions": ["ocpp1.6", "ocpp2.0.1"]},
            )
        await routing.put(
            "/routes/default",
            json={
                "primary": "legacy",
                "shadows": [{"backend": "new"}],
                "reason": "demo: shadow run",
            },
        )
        await asyncio.sleep(0.5)
        chargers: dict[str, tuple[Any, str]] = {}
        _say(f"connecting {size} simulated chargers of {len(MODELS)} models ...")
        for i in range(size):
            vendor, model, version = MODELS[i % len(MODELS)]
            cid = f"DEMO-{model}-{i:03d}"
            url = f"ws://127.0.0.1:{ocpp_port}/ocpp/{cid}"
            cp, _ = await stack.enter_async_context(connect_charger(url, cid, version))
            chargers[cid] = (cp, version)
            if version == "ocpp1.6":
                await cp.call(
                    c16.BootNotification(charge_point_model=model, charge_point_vendor=vendor)
                )
            else:
                await cp.call(
                    c201.BootNotification(
                        charging_station={"model": model, "vendor_name": vendor}, reason="PowerUp"
                    )
                )
        await asyncio.sleep(2)
        estate = (await waves.get("/estate", params={"window": "1h"})).json()
        _say(
            "estate: "
            + "; ".join(f"{k} {v}" for k, v in estate["counts"]["model"].items())
            + " — all on "
            + ", ".join(estate["counts"]["backend"])
        )
        pilot = [c for m in MODELS for c in sorted(x for x in chargers if m[1] in x)[:2]]
        for cid in pilot:
            await routing.patch(f"/chargers/{cid}", json={"add_tags": ["pilot"]})
        owner = await routing.post("/tokens", json={"name": "ops-lead", "roles": ["operator"]})
        owner_headers = {"Authorization": f"Bearer {owner.json().get('token', '')}"}
        criteria = {
            "minAuthorizationRatio": 0.9,
            "maxCallErrorRatio": 0.05,
            "maxShadowDivergences": 0,
            "minSamples": 3,
        }

        def wave(
            name: str, order: int, selector: dict[str, Any], pilot_wave: bool
        ) -> dict[str, Any]:
            return {
                "apiVersion": "switchyard.io/v1alpha1",
                "kind": "MigrationWave",
                "metadata": {"name": name, "labels": {"switchyard.io/plan": "legacy-to-new"}},
                "spec": {
                    "pilot": pilot_wave,
                    "order": order,
                    "selector": selector,
                    "targetBackend": "new",
                    "rollbackTarget": "legacy",
                    "successCriteria": criteria,
                    "observationWindow": "8s",
                    "gateInterval": "1s",
                    "cutoverRate": {"chargersPerSecond": 5, "maxInFlight": 5},
                    "preflight": {"lookback": "10m"},
                    "signOffOwner": "ops-lead",
                    "note": f"{name}: support and field ops briefed",
                },
            }

        plan = [
            wave("pilot", 0, {"chargerIds": pilot}, True),
            wave(
                "wave-1",
                1,
                {"matchExpressions": [{"key": "tags", "operator": "NotIn", "values": ["pilot"]}]},
                False,
            ),
        ]
        applied = (await waves.post("/waves/apply", json=plan)).json()
        _say("plan legacy-to-new: " + ", ".join(f"{a['name']} {a['result']}" for a in applied))
        for name in ("pilot", "wave-1"):
            await _watch(waves, name, {"Ready"})
            _say(f"starting {name}")
            await waves.post(f"/waves/{name}/start", json={"reason": f"demo: {name}"})
            await _watch(waves, name, {"Observing", "RolledBack"})
            members = (await waves.get(f"/waves/{name}")).json()["status"]["members"]
            _say(f"{name}: chargers authorize on the new CSMS while the gates are watched")
            for cid in members:
                cp, version = chargers[cid]
                if version == "ocpp1.6":
                    await cp.call(c16.Authorize(id_tag="DEMO"))
                else:
                    await cp.call(c201.Authorize(id_token={"idToken": "DEMO", "type": "ISO14443"}))
            phase = await _watch(waves, name, {"Passed", "RolledBack"})
            if phase == "RolledBack":
                return 1
            _say(f"{name} passed; its owner ops-lead signs it off")
            signed = await waves.post(
                f"/waves/{name}/signoff",
                headers=owner_headers,
                json={"note": "demo: checked sessions and support tickets"},
            )
            if signed.status_code != 200:
                _say(f"sign-off refused: {signed.text}")
                return 1
            await _watch(waves, name, {"SignedOff"})
        _say("every wave is signed off: the rollback path (legacy as a shadow) is retired")
        for name in ("pilot", "wave-1"):
            await routing.put(
                f"/routes/groups/wave-{name}",
                json={"primary": "new", "reason": f"{name} signed off: legacy no longer needed"},
            )
        await routing.put("/routes/default", json={"primary": "new", "reason": "legacy retired"})
        await asyncio.sleep(1)
        _say("decommission evidence for 'legacy' (after exporting its history):")
        await waves.post("/evidence/legacy/exports", json={"reason": "demo"})
        evidence = await waves.get("/evidence/legacy", params={"format": "md"})
        print(evidence.text, flush=True)
        return 0
