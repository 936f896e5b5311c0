"""Conversations with latencies, trace search, health metrics, replay and retention."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import nats

from sy_bus import streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_events import ChargerConnected, ChargerDisconnected, subject_for, to_json
from sy_events.samples import T0, Traffic, session_16

from .test_events_sessions import publish, wait_for

DAY_NS = 86_400 * 10**9

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]

T_TRACE = 1_930_262_400_000_000_000  # 2031-03-03T00:00:00Z
T_HEALTH = 1_930_348_800_000_000_000  # 2031-03-04T00:00:00Z
DAY0 = datetime(2031, 3, 4, tzinfo=UTC)


async def test_conversation_shows_every_hop_with_the_gateways_latency(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-conv")
    t = Traffic(cp, now=T_TRACE)
    session_16(t)
    t.command("new", "Reset", {"type": "Soft"}, {"status": "Accepted"})
    await publish(bus, t)

    async with run_journal(settings_for(journal_db)) as journal:

        async def stored() -> list[dict[str, Any]] | None:
            resp = await journal.client.get(f"/chargers/{cp}/conversation")
            ex = resp.json()
            return ex if len(ex) == 7 else None

        exchanges = await wait_for(stored, "seven exchanges")
        [session] = (await journal.client.get("/sessions", params={"charger_id": cp})).json()
        by_tx = (
            await journal.client.get(
                f"/chargers/{cp}/conversation",
                params={"transaction": session["gateway_transaction_id"]},
            )
        ).json()
        by_charger_tx = (
            await journal.client.get("/traces", params={"transaction": "1001", "charger_id": cp})
        ).json()
        by_id = (await journal.client.get("/traces", params={"message_id": "c1"})).json()
        no_filter = await journal.client.get("/traces")
        unknown = await journal.client.get("/traces", params={"transaction": "nope"})

    assert [e["action"] for e in exchanges] == [
        "BootNotification",
        "StatusNotification",
        "Authorize",
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
        "Reset",
    ]
    start = exchanges[3]
    # Frames 1 ms apart: charger CALL, two backend CALLs, two answers, answer to the charger.
    assert [f["direction"] for f in start["frames"]] == [
        "from_charger",
        "to_backend",
        "to_backend",
        "from_backend",
        "from_backend",
        "to_charger",
    ]
    legs = {leg["backend"]: leg for leg in start["legs"]}
    assert legs["legacy"] == {
        "backend": "legacy",
        "answered": True,
        "forward_ms": 1.0,
        "backend_ms": 2.0,
        "return_ms": 2.0,
    }
    assert legs["new"]["forward_ms"] == 2.0
    assert start["total_ms"] == 5.0
    assert start["outcome"] == "result"
    reset = exchanges[-1]
    assert (reset["origin"], reset["legs"][0]["backend"], reset["total_ms"]) == (
        "backend",
        "new",
        1.0,
    )
    assert [e["action"] for e in by_tx] == ["StartTransaction", "MeterValues", "StopTransaction"]
    assert len(by_charger_tx) == 18  # three exchanges of six frames
    assert {f["charger_id"] for f in by_id} >= {cp}
    assert no_filter.status_code == 422
    assert unknown.status_code == 404


async def test_health_metrics_of_a_charger_group(
    bus: FrameBus,
    nats_server: EmbeddedNats,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    a, b = charger("CP-h-a"), charger("CP-h-b")
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    hour = timedelta(hours=1)

    async def presence(cp: str, at: timedelta, up: bool, conn: str) -> None:
        common: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "charger_id": cp,
            "ts": DAY0 + at,
            "connection_id": conn,
            "instance": "edge-0",
        }
        event = (
            ChargerConnected(**common)
            if up
            else ChargerDisconnected(**common, reason="ping_timeout")
        )
        await js.publish(subject_for(event), to_json(event))

    # a: connected all day, one drop of 6 h (so one reconnect); b: connected the last 12 h.
    await presence(a, -hour, True, "a1")
    await presence(a, 6 * hour, False, "a1")
    await presence(a, 12 * hour, True, "a2")
    await presence(b, 12 * hour, True, "b1")
    await nc.close()

    ta = Traffic(a, now=T_HEALTH + 3600 * 10**9)
    ta.exchange("Authorize", {"idTag": "OK"}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    ta.exchange("Authorize", {"idTag": "NO"}, {"legacy": {"idTagInfo": {"status": "Invalid"}}})
    start = {"connectorId": 1, "idTag": "OK", "meterStart": 0, "timestamp": "2031-03-04T01:00:00Z"}
    ta.exchange("StartTransaction", start, {"legacy": ("InternalError", "")})
    ta.exchange("StartTransaction", start, {"legacy": {"transactionId": 5}})
    sn = {"connectorId": 1, "errorCode": "NoError"}
    ta.exchange("StatusNotification", {**sn, "status": "Available"}, {"legacy": {}})
    ta.exchange(
        "StatusNotification",
        {**sn, "status": "Faulted", "errorCode": "GroundFailure"},
        {"legacy": {}},
    )
    ta.exchange(
        "StatusNotification",
        {**sn, "status": "Faulted", "errorCode": "GroundFailure"},
        {"legacy": {}},
    )
    ta.exchange("StatusNotification", {**sn, "status": "Available"}, {"legacy": {}})
    ta.exchange(
        "StatusNotification",
        {**sn, "status": "Faulted", "errorCode": "OverVoltage"},
        {"legacy": {}},
    )
    await publish(bus, ta)

    async with run_journal(settings_for(journal_db)) as journal:

        async def ready() -> bool:
            events = (await journal.client.get(f"/chargers/{a}/status")).json()
            resp = await journal.client.post(
                "/health",
                json={
                    "charger_ids": [a],
                    "since": DAY0.isoformat(),
                    "until": (DAY0 + hour).isoformat(),
                },
            )
            return len(events) == 5 and resp.json()["per_charger"][0]["availability"] > 0

        await wait_for(ready, "status history and presence stored")
        resp = await journal.client.post(
            "/health",
            json={
                "charger_ids": [a, b],
                "since": DAY0.isoformat(),
                "until": (DAY0 + 24 * hour).isoformat(),
            },
        )
        bad = await journal.client.post(
            "/health", json={"since": DAY0.isoformat(), "until": DAY0.isoformat()}
        )

    assert resp.status_code == 200, resp.text
    h = resp.json()
    per = {c["charger_id"]: c for c in h["per_charger"]}
    assert per[a]["availability"] == 0.75
    assert per[b]["availability"] == 0.5
    assert (per[a]["reconnects"], per[b]["reconnects"]) == (1, 0)
    assert per[a]["faults"] == 2
    assert h["availability"] == 0.625
    assert h["authorization"] == {"ok": 1, "total": 2, "rate": 0.5}
    assert h["session_start"] == {"ok": 1, "total": 2, "rate": 0.5}
    # 9 answers to the charger, one CALLERROR
    assert h["callerror"] == {"ok": 1, "total": 9, "rate": 1 / 9}
    assert h["mean_time_between_faults_h"] == 24.0
    assert bad.status_code == 422


async def test_replay_creates_a_durable_consumer_from_a_time(
    bus: FrameBus,
    nats_server: EmbeddedNats,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-replay")
    t = Traffic(cp)
    session_16(t)
    await publish(bus, t)
    name = f"backfill-{uuid.uuid4().hex[:6]}"
    since = datetime.now(UTC) - timedelta(minutes=5)
    async with run_journal(settings_for(journal_db)) as journal:
        await wait_for(lambda: _has_sessions(journal, cp), "session stored")
        await journal.wait_metric("sy_journal_outbox_events", lambda v: v == 0)
        resp = await journal.client.post(
            "/replays",
            json={"consumer": name, "since": since.isoformat(), "types": ["transaction_started"]},
        )
        again = await journal.client.post(
            "/replays", json={"consumer": name, "since": since.isoformat()}
        )
        unknown = await journal.client.post(
            "/replays", json={"consumer": name + "x", "since": since.isoformat(), "types": ["x"]}
        )
    assert resp.status_code == 201, resp.text
    assert resp.json()["filter_subjects"] == ["sy.events.transaction_started.*"]
    assert again.status_code == 409
    assert unknown.status_code == 422

    nc = await nats.connect(nats_server.url)
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=name, stream=streams.EVENTS.name)
        msgs = await sub.fetch(100, timeout=2)
        subjects = {m.subject for m in msgs}
    finally:
        await nc.close()
    assert f"sy.events.transaction_started.{cp}" in subjects
    assert all(s.startswith("sy.events.transaction_started.") for s in subjects)


async def _has_sessions(journal: Journal, cp: str) -> bool:
    resp = await journal.client.get("/sessions", params={"charger_id": cp})
    return bool(resp.json())


async def test_retention_drops_whole_old_partitions_only(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-old")
    old = Traffic(cp)  # 2023
    old.exchange("Heartbeat", {}, {"legacy": {"currentTime": "2023-11-14T22:13:20Z"}})
    await publish(bus, old)
    now_ns = int(datetime.now(UTC).timestamp()) * 10**9
    recent = Traffic(cp, now=now_ns)
    recent.exchange("Heartbeat", {}, {"legacy": {"currentTime": "2031-01-01T00:00:00Z"}})
    await publish(bus, recent)

    settings = settings_for(journal_db)
    async with run_journal(settings) as journal:
        await journal.wait_frames(cp, 8)
    settings = settings_for(journal_db, retention_frames_days=30, maintenance_every_s=3600)
    async with run_journal(settings) as journal:

        async def only_recent() -> bool:
            frames = await journal.frames(cp)
            return len(frames) == 4 and all(f["ts_ns"] >= now_ns for f in frames)

        # the run at start-up drops 2023-11-14 (and the periodic one waits an hour) ...
        await wait_for(only_recent, "the start-up run to drop the 2023-11-14 partition")
        # ... so a day that arrives later is dropped by the operator's run, which says so
        later = Traffic(cp, now=T0 + DAY_NS)  # 2023-11-15
        later.exchange("Heartbeat", {}, {"legacy": {"currentTime": "2023-11-15T22:13:20Z"}})
        await publish(bus, later)
        await journal.wait_frames(cp, 8)
        report = (await journal.client.post("/maintenance/retention")).json()
        assert await only_recent()
    assert report["partitions_dropped"] == ["frames_p20231115"]
