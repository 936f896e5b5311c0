"""An operator's commands on a wave, over REST and the `switchyard` command, against the running
suite (every service a process, real NATS, Postgres, CSMS peers and chargers on sockets), and
what a downstream system sees of it: one `wave_transition` event per transition on SY_EVENTS.

The wave cuts over, passes, is refused sign-off by someone who is not its owner, is signed off by
its owner, rolled back by one command, retried, cut over again and rolled back on its own when its
target refuses authorizations. Commands that do not apply are refused with 409 and a sentence
naming what is allowed; the CLI exits 1 with that sentence. Then the old target is retired with
decommission evidence, as JSON and as Markdown.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import pytest
from nats.js.api import DeliverPolicy
from ocpp.v16 import call as c16

from sy_devkit.auth import TEST_ADMIN_TOKEN
from sy_devkit.peers import CsmsPeer, connect_charger
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.waiting import eventually
from sy_events import WaveTransition, parse_event
from sy_events.subjects import of_type

SWITCHYARD = str(Path(sys.executable).parent / "switchyard")
_eventually = functools.partial(eventually, every_s=0.2)  # polls the services' APIs
ADMIN = "bootstrap-admin"  # the name of the suite's admin token
CONTROLLER = "migration-controller"
TAG = "CMD-TAG"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _cli(
    suite: RunningSuite, *args: str, token: str = TEST_ADMIN_TOKEN
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SY_ROUTING_URL": suite.api("routing"),
        "SY_JOURNAL_URL": suite.api("journal"),
        "SY_MIGRATION_URL": suite.api("migration"),
        "SY_STATE_DIR": "/nonexistent",
        "SY_API_TOKEN": token,
    }
    return await asyncio.to_thread(
        subprocess.run,
        [SWITCHYARD, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_sentence_failure(done: subprocess.CompletedProcess[str], *says: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("switchyard: "), done.stderr
    for part in says:
        assert part in lines[0], (part, lines[0])


class Feed:
    """Every wave_transition event published from now on, as a subscriber would get them."""

    def __init__(self, nats_url: str) -> None:
        self.nats_url = nats_url
        self.events: list[WaveTransition] = []

    async def __aenter__(self) -> Feed:
        self.nc = await nats.connect(self.nats_url)
        self.sub = await self.nc.jetstream().subscribe(
            of_type("wave_transition"), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.nc.close()

    async def of(self, wave: str, count: int, timeout_s: float = 10) -> list[WaveTransition]:
        deadline = time.monotonic() + timeout_s
        while len(mine := [e for e in self.events if e.wave == wave]) < count:
            assert time.monotonic() < deadline, [(e.to_phase, e.trigger) for e in mine]
            try:
                msg = await self.sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                continue
            assert msg.subject == "sy.events.wave_transition.="
            event = parse_event(msg.data)
            assert isinstance(event, WaveTransition)
            self.events.append(event)
        return mine


@pytest.fixture
async def peers() -> AsyncIterator[tuple[CsmsPeer, CsmsPeer]]:
    old = await CsmsPeer("old", first_transaction_id=2000).start()
    new = await CsmsPeer("new", first_transaction_id=700_000).start()
    yield old, new
    await new.stop()
    await old.stop()


@pytest.mark.timeout(240)
async def test_wave_commands_events_and_evidence(
    routed: RunningSuite, peers: tuple[CsmsPeer, CsmsPeer]
) -> None:
    old, new = peers
    suffix = uuid.uuid4().hex[:6]
    old_name, new_name = f"old-{suffix}", f"new-{suffix}"
    ids = [f"C{suffix}-{i}" for i in range(4)]
    shadow_run, name = f"shadow-{suffix}", f"wave-{suffix}"
    admin = routed.admin_headers
    async with AsyncExitStack() as stack:
        routing = await stack.enter_async_context(
            httpx.AsyncClient(base_url=routed.api("routing"), headers=admin, timeout=30)
        )
        api = await stack.enter_async_context(
            httpx.AsyncClient(base_url=routed.api("migration"), headers=admin, timeout=30)
        )
        feed = await stack.enter_async_context(Feed(routed.nats_url))

        # -- two backends, a shadow run of the new one, four chargers ----------------------------
        for backend, peer in ((old_name, old), (new_name, new)):
            body = {"name": backend, "url": peer.url, "ocpp_versions": ["ocpp1.6"]}
            assert (await routing.post("/backends", json=body)).status_code == 201
        assert (
            await routing.post("/groups", json={"name": shadow_run, "chargers": ids})
        ).status_code == 201
        shadowed = await routing.put(
            f"/routes/groups/{shadow_run}",
            json={"primary": old_name, "shadows": [{"backend": new_name}], "reason": "shadow run"},
        )
        assert shadowed.status_code == 200, shadowed.text
        await asyncio.sleep(0.3)
        chargers = {}
        for cid in ids:
            cp, _ = await stack.enter_async_context(
                connect_charger(routed.charger_url(cid), cid, "ocpp1.6")
            )
            chargers[cid] = cp
            await cp.call(c16.BootNotification(charge_point_model="Sim", charge_point_vendor="Sy"))
            await cp.call(
                c16.StatusNotification(connector_id=1, error_code="NoError", status="Available")
            )
        owner = f"wave-owner-{suffix}"
        made = await routing.post("/tokens", json={"name": owner, "roles": ["operator"]})
        assert made.status_code == 201, made.text
        owner_token = made.json()["token"]

        async def phase(wanted: str) -> bool:
            got = (await api.get(f"/waves/{name}")).json()
            return bool(got["status"]["phase"] == wanted)

        # -- the wave: applied with the CLI, Ready once its pre-flight passes -------------------
        wave = {
            "apiVersion": "switchyard.io/v1alpha1",
            "kind": "MigrationWave",
            "metadata": {"name": name, "labels": {"switchyard.io/plan": f"plan-{suffix}"}},
            "spec": {
                "selector": {"chargerIds": ids},
                "targetBackend": new_name,
                "rollbackTarget": old_name,
                "successCriteria": {"minAuthorizationRatio": 0.9, "minSamples": 3},
                "observationWindow": "4s",
                "gateInterval": "1s",
                "cutoverRate": {"chargersPerSecond": 20, "maxInFlight": 10},
                "preflight": {"lookback": "10m"},
                "signOffOwner": owner,
                "note": "Support briefed; field ops on call 08-18h.",
            },
        }
        manifest = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}.json"
        manifest.write_text(json.dumps(wave))  # JSON is YAML
        applied = await _cli(routed, "wave", "apply", "-f", str(manifest))
        manifest.unlink()
        assert applied.returncode == 0, applied.stderr
        assert f"migrationwave/{name} created (Draft)" in applied.stdout
        await _eventually(lambda: phase("Ready"), 30, "pre-flight passes")

        # -- commands that do not apply: 409 and what is allowed instead ------------------------
        early = await _cli(routed, "wave", "rollback", name, "--reason", "nothing moved yet")
        _one_sentence_failure(
            early,
            "HTTP 409",
            "only a wave whose cutover began can be rolled back",
            "from Ready an operator may run start (to CuttingOver)",
        )
        retry = await api.post(f"/waves/{name}/retry", json={"reason": "again"})
        assert retry.status_code == 409
        assert "only a RolledBack wave can be retried" in retry.json()["detail"]
        assert "from Ready an operator may run start" in retry.json()["detail"]
        unknown = await _cli(routed, "wave", "rollback", f"nope-{suffix}", "--reason", "x")
        _one_sentence_failure(unknown, "HTTP 404", f"no wave named 'nope-{suffix}'")

        # -- cutover, observation, a session on the new CSMS, the window holds ------------------
        started = await _cli(routed, "wave", "start", name, "--reason", "go for wave 1")
        assert started.returncode == 0, started.stderr
        assert f"wave {name}: CuttingOver" in started.stdout
        await _eventually(lambda: phase("Observing"), 20, "every charger cut over")
        cp = chargers[ids[0]]
        assert (await cp.call(c16.Authorize(id_tag=TAG))).id_tag_info["status"] == "Accepted"
        tx = (
            await cp.call(
                c16.StartTransaction(connector_id=1, id_tag=TAG, meter_start=0, timestamp=_now())
            )
        ).transaction_id
        assert tx >= 700_000  # the new CSMS's id: the session is there
        await cp.call(c16.StopTransaction(meter_stop=1200, timestamp=_now(), transaction_id=tx))
        await _eventually(lambda: phase("Passed"), 30, "the observation window holds")

        # -- sign-off: refused to anyone but the owner ------------------------------------------
        refused = await api.post(f"/waves/{name}/signoff", json={"note": "looks fine to me"})
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            f"wave {name} is signed off by its owner '{owner}', not '{ADMIN}'"
        )
        not_owner = await _cli(routed, "wave", "signoff", name, "--note", "me neither")
        _one_sentence_failure(not_owner, "HTTP 403", f"its owner '{owner}'")
        signed = await _cli(
            routed, "wave", "signoff", name, "--note", "billing checked", token=owner_token
        )
        assert signed.returncode == 0, signed.stderr
        assert f"signed off by {owner}" in signed.stdout
        again = await api.post(f"/waves/{name}/start", json={"reason": "twice?"})
        assert again.status_code == 409
        assert (
            "from SignedOff an operator may run rollback (to RolledBack)"
            in (again.json()["detail"])
        )

        # -- a site fails on day 20: rollback by one command ------------------------------------
        rolled = await _cli(routed, "wave", "rollback", name, "--reason", "site failing")
        assert rolled.returncode == 0, rolled.stderr
        assert f"wave {name}: RolledBack" in rolled.stdout
        for cid in ids:
            route = (await routing.get(f"/routes/chargers/{cid}")).json()
            assert route["primary"]["name"] == old_name, route
        status = (await api.get(f"/waves/{name}")).json()["status"]
        assert status["chargers"] == {"total": 4, "cutOver": 0, "pending": 0, "rolledBack": 4}

        # -- retried: back to Draft with a reason, Ready again after pre-flight -----------------
        no_reason = await _cli(routed, "wave", "retry", name)
        assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
        retried = await _cli(routed, "wave", "retry", name, "--reason", "site fixed")
        assert retried.returncode == 0, retried.stderr
        assert f"wave {name}: Draft" in retried.stdout
        await _eventually(lambda: phase("Ready"), 30, "pre-flight passes again")

        # -- again, and the target starts refusing: the wave rolls back on its own --------------
        restarted = await api.post(f"/waves/{name}/start", json={"reason": "second try"})
        assert restarted.status_code == 200, restarted.text
        await _eventually(lambda: phase("Observing"), 20, "every charger cut over again")
        new.authorization = "Blocked"
        answers = await asyncio.gather(
            *(c.call(c16.Authorize(id_tag=TAG)) for c in chargers.values())
        )
        assert {a.id_tag_info["status"] for a in answers} == {"Blocked"}
        await _eventually(lambda: phase("RolledBack"), 30, "the breach rolls the wave back")
        finished = await api.post(
            f"/waves/{name}/signoff",
            json={"note": "?"},
            headers={"Authorization": f"Bearer {owner_token}"},
        )
        assert finished.status_code == 409
        assert "from RolledBack an operator may run retry (to Draft)" in finished.json()["detail"]

        # -- the feed: every transition, in order, with who and why -----------------------------
        events = await feed.of(name, 12)
        assert [(e.from_phase, e.to_phase, e.trigger, e.actor) for e in events] == [
            (None, "Draft", "created", ADMIN),
            ("Draft", "Ready", "preflight_passed", CONTROLLER),
            ("Ready", "CuttingOver", "start", ADMIN),
            ("CuttingOver", "Observing", "all_cut_over", CONTROLLER),
            ("Observing", "Passed", "window_held", CONTROLLER),
            ("Passed", "SignedOff", "sign_off", owner),
            ("SignedOff", "RolledBack", "rollback", ADMIN),
            ("RolledBack", "Draft", "retry", ADMIN),
            ("Draft", "Ready", "preflight_passed", CONTROLLER),
            ("Ready", "CuttingOver", "start", ADMIN),
            ("CuttingOver", "Observing", "all_cut_over", CONTROLLER),
            ("Observing", "RolledBack", "breach", CONTROLLER),
        ]
        assert [e.reason for e in events if e.actor != CONTROLLER] == [
            wave["spec"]["note"],
            "go for wave 1",
            "billing checked",
            "site failing",
            "site fixed",
            "second try",
        ]
        assert all(e.plan == f"plan-{suffix}" and e.note == wave["spec"]["note"] for e in events)
        assert [e.automatic for e in events] == [e.actor == CONTROLLER for e in events]
        assert len({e.event_id for e in events}) == 12
        assert [e.ts for e in events] == sorted(e.ts for e in events)
        observing = events[3]
        assert observing.chargers.total == 4 and observing.chargers.cut_over == 4
        assert observing.progress == "4/4 (100%)"
        held = events[4]
        assert {g.name: g.state for g in held.gates} == {"minAuthorizationRatio": "pending"}
        by_hand, on_its_own = events[6], events[11]
        assert by_hand.rollback is not None and by_hand.rollback.backend == old_name
        assert by_hand.rollback.target == old_name and by_hand.rollback.chargers == 4
        assert by_hand.chargers.rolled_back == 4 and by_hand.gates == []
        assert on_its_own.automatic and on_its_own.health == "Failing"
        assert "gate breached" in on_its_own.reason
        (gate,) = on_its_own.gates
        assert (gate.name, gate.state, gate.value, gate.threshold) == (
            "minAuthorizationRatio",
            "breach",
            0.0,
            0.9,
        )
        assert gate.samples is not None and gate.samples >= 3
        assert on_its_own.rollback is not None and on_its_own.rollback.backend == old_name
        recorded = (await api.get(f"/waves/{name}")).json()["transitions"]
        assert [(t["to"], t["actor"], t["reason"]) for t in recorded] == [
            (e.to_phase, e.actor, e.reason) for e in events
        ]

        # -- decommission evidence for the new CSMS: not yet (it is still a shadow) -------------
        still = await _cli(routed, "evidence", new_name, "--format", "json")
        _one_sentence_failure(still, f"backend {new_name} is not ready to decommission")
        assert f"group route {shadow_run}" in still.stderr
        found = json.loads(still.stdout)
        assert not found["ready_to_decommission"]
        # The chargers follow the rolled-back wave's route (to the old CSMS, no shadow); the
        # shadow run's route still names the new one.
        assert found["routing"]["routes"] == [f"group route {shadow_run}"]
        assert found["routing"]["chargers"] == []

        # ... until no route names it any more, its sockets are gone and its history exported.
        unshadowed = await routing.put(
            f"/routes/groups/{shadow_run}",
            json={"primary": old_name, "shadows": [], "reason": "retire the new CSMS"},
        )
        assert unshadowed.status_code == 200, unshadowed.text

        async def released() -> bool:
            got = (await api.get(f"/evidence/{new_name}")).json()
            checks = {c["name"]: c["ok"] for c in got["checks"]}
            return checks["unrouted"] and checks["no_sockets"]

        await _eventually(released, 20, "the connectors close their sockets to it")
        report = await _cli(routed, "evidence", new_name, "--export")
        assert report.returncode == 0, (report.stdout, report.stderr)
        markdown = report.stdout
        assert markdown.startswith(f"# Decommission evidence: backend `{new_name}`")
        assert "**READY to decommission.**" in markdown
        assert "No route names the backend; no charger follows it." in markdown
        assert "| no_sockets | yes | the connectors hold no socket to it |" in markdown
        assert "Newest frame on its upstreams: 20" in markdown
        assert "## Sessions reconciled" in markdown and f"sent to `{new_name}`" in markdown
        assert "## Historical data exported" in markdown
        for kind in ("sessions", "events", "status"):
            assert f"| {kind} | " in markdown

        as_json = await _cli(routed, "evidence", new_name, "--json")
        assert as_json.returncode == 0, as_json.stderr
        evidence = json.loads(as_json.stdout)
        assert evidence["ready_to_decommission"] is True
        assert {c["name"]: c["ok"] for c in evidence["checks"]} == {
            "unrouted": True,
            "no_sockets": True,
            "reconciled": True,
            "exported": True,
        }
        assert evidence["routing"]["routes"] == [] and evidence["routing"]["chargers"] == []
        assert evidence["sockets"] == []
        assert evidence["last_traffic"] is not None
        recon = evidence["reconciliation"]
        # The session charged on the new CSMS was sent to it and acknowledged by it: the
        # journal links the backend hop to the charger's side of each exchange.
        assert recon["sessions_seen"] >= 1 and recon["differences"] == []
        assert recon["sent_to_backend"] >= 1, recon
        assert f"{recon['sessions_seen']} sessions seen" in markdown
        assert {e["kind"] for e in evidence["exports"]} == {"sessions", "events", "status"}
        for export in evidence["exports"]:
            assert len(export["sha256"]) == 64 and export["created_by"] == ADMIN
            written = await asyncio.to_thread(Path(export["location"]).read_bytes)
            assert len(written) == export["bytes"]
            assert hashlib.sha256(written).hexdigest() == export["sha256"]
        md = await api.get(f"/evidence/{new_name}", params={"format": "md"})
        assert md.status_code == 200
        assert md.headers["content-type"].startswith("text/markdown")
        assert "**READY to decommission.**" in md.text
