"""The migration service on real NATS and Postgres: its schema, probes, waves applied from the
example YAML (and JSON), plans, transitions recorded, commands refused with reasons."""

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import jsonschema
import nats
import yaml
from httpx import ASGITransport, AsyncClient
from nats.js.api import DeliverPolicy

from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.inprocess import app_client, migrate
from sy_events import WaveTransition, parse_event
from sy_events.subjects import of_type
from sy_migration.app import build_app
from sy_migration.settings import MigrationSettings

ROOT = Path(__file__).resolve().parents[3]
PILOT = (ROOT / "k8s" / "examples" / "wave-pilot.yaml").read_text()
SCHEMA = ROOT / "docs" / "schemas" / "wave_transition.json"
WAVE2 = (ROOT / "k8s" / "examples" / "kustomize" / "base" / "wave-2-public-sites.yaml").read_text()


async def test_ready_with_empty_plan_list(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    db = new_database()
    await migrate("sy_migration", db)
    app = build_app(MigrationSettings(nats_url=nats_server.url, database_url=db))
    async with app_client(app) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"nats": "ok", "database": "ok"}
        plans = await client.get("/plans")
        assert plans.status_code == 200
        assert plans.json() == []
        metrics = await client.get("/metrics")
        assert "python_info" in metrics.text


async def test_not_ready_before_start(nats_server: EmbeddedNats) -> None:
    app = build_app(MigrationSettings(nats_url=nats_server.url))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://x") as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"


async def test_waves_from_yaml_and_json_with_plan_and_commands(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    db = new_database()
    await migrate("sy_migration", db)
    app = build_app(MigrationSettings(nats_url=nats_server.url, database_url=db))
    async with app_client(app) as client:
        applied = await client.post(
            "/waves/apply", content=PILOT, headers={"Content-Type": "application/yaml"}
        )
        assert applied.status_code == 200, applied.text
        assert applied.json() == [
            {"name": "pilot-berlin-depot", "result": "created", "phase": "Draft"}
        ]
        again = await client.post(
            "/waves/apply", content=PILOT, headers={"Content-Type": "application/yaml"}
        )
        assert again.json()[0]["result"] == "unchanged"
        wave2 = yaml.safe_load(WAVE2)
        wave2["metadata"]["labels"] = {"switchyard.io/plan": "legacy-to-new"}
        assert (await client.post("/waves/apply", json=wave2)).json()[0]["result"] == "created"

        plan = (await client.get("/plans/legacy-to-new")).json()
        assert [(w["name"], w["pilot"], w["phase"]) for w in plan["waves"]] == [
            ("pilot-berlin-depot", True, "Draft"),
            ("wave-2-public-sites", False, "Draft"),
        ]

        wave = (await client.get("/waves/pilot-berlin-depot")).json()
        assert wave["kind"] == "MigrationWave"
        assert wave["status"]["phase"] == "Draft" and wave["status"]["progress"] == "0/0 (0%)"
        assert wave["transitions"][0]["to"] == "Draft"
        assert wave["transitions"][0]["actor"] == "bootstrap-admin"

        start = await client.post("/waves/pilot-berlin-depot/start", json={"reason": "go"})
        assert start.status_code == 409 and "only a Ready wave" in start.json()["detail"]
        rollback = await client.post("/waves/pilot-berlin-depot/rollback", json={})
        assert rollback.status_code == 409 and "cutover began" in rollback.json()["detail"]
        sign = await client.post("/waves/pilot-berlin-depot/signoff", json={"note": "ok"})
        assert sign.status_code in (403, 409)

        wave2["spec"]["observationWindow"] = "1h"
        changed = await client.post("/waves/apply", json=wave2)
        assert changed.json()[0]["result"] == "configured"
        assert (await client.get("/waves/wave-2-public-sites")).json()["metadata"][
            "generation"
        ] == 2

        bad = dict(wave2, spec={**wave2["spec"], "rollbackTarget": "new-csms"})
        refused = await client.post("/waves/apply", json=bad)
        assert refused.status_code == 422 and "must differ" in refused.text
        other = await client.post("/waves/apply", json={"kind": "Deployment"})
        assert other.status_code == 422 and "is not MigrationWave" in other.text

        gone = await client.delete("/waves/wave-2-public-sites", params={"reason": "test"})
        assert gone.status_code == 204
        assert [w["metadata"]["name"] for w in (await client.get("/waves")).json()] == [
            "pilot-berlin-depot"
        ]
        viewer = await client.get("/waves", headers={"Authorization": "Bearer nope"})
        assert viewer.status_code == 401


async def test_every_recorded_transition_is_a_wave_transition_event(
    nats_server: EmbeddedNats, new_database: Callable[[], str]
) -> None:
    """Creating a wave and changing a Ready wave's spec are transitions too: each is on SY_EVENTS
    as a canonical event that validates against its published JSON Schema."""
    db = new_database()
    await migrate("sy_migration", db)
    app = build_app(MigrationSettings(nats_url=nats_server.url, database_url=db))
    nc = await nats.connect(nats_server.url)
    try:
        async with app_client(app) as client:
            sub = await nc.jetstream().subscribe(
                of_type("wave_transition"), ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
            )
            wave = yaml.safe_load(PILOT)
            wave["metadata"]["name"] = name = f"events-{uuid.uuid4().hex[:8]}"
            applied = await client.post("/waves/apply", json=wave)
            assert applied.status_code == 200, applied.text
            msg = await sub.next_msg(timeout=5)
            recorded = (await client.get(f"/waves/{name}")).json()["transitions"]
    finally:
        await nc.close()
    assert msg.subject == "sy.events.wave_transition.="
    assert msg.header is not None and msg.header["Nats-Msg-Id"] == json.loads(msg.data)["event_id"]
    jsonschema.validate(json.loads(msg.data), json.loads(SCHEMA.read_text()))
    event = parse_event(msg.data)
    assert isinstance(event, WaveTransition)
    assert (event.wave, event.plan, event.from_phase, event.to_phase) == (
        name,
        "legacy-to-new",
        None,
        "Draft",
    )
    assert (event.trigger, event.actor, event.automatic) == ("created", "bootstrap-admin", False)
    assert event.reason == recorded[0]["reason"] == wave["spec"]["note"]
    assert (event.target_backend, event.rollback_target) == ("new-csms", "legacy-csms")
    assert event.sign_off_owner == "ops-lead@example.com"
    assert event.note.startswith("First wave.")
    assert event.chargers.total == 0 and event.progress == "0/0 (0%)"
    assert event.health == "Unknown" and event.gates == [] and event.rollback is None
