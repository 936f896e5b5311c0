"""Frames in, canonical events out on SY_EVENTS and in Postgres, sessions and status history."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import nats
import pytest

from sy_bus import streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_events import parse_event
from sy_events.samples import Traffic, session_16, session_201

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]

T_REC = 1_930_089_600_000_000_000  # 2031-03-01T00:00:00Z
DOCS = Path(__file__).resolve().parents[3] / "docs"


async def publish(bus: FrameBus, traffic: Traffic) -> list[int]:
    return [await bus.publish(record) for _, record in traffic.frames]


async def wait_for(check: Callable[[], Any], what: str, within_s: float = 20.0) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def events_on_stream(nats_url: str, charger_token: str) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            f"sy.events.*.{charger_token}", ordered_consumer=True, stream=streams.EVENTS.name
        )
        out = []
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                return out
            out.append({"subject": msg.subject, "doc": json.loads(msg.data), "hdr": msg.headers})
    finally:
        await nc.close()


async def test_16_and_201_sessions_are_stored_alike_and_events_are_published_once(
    bus: FrameBus,
    nats_server: EmbeddedNats,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp16, cp201 = charger("CP-v16"), charger("CP-v201")
    t16, t201 = Traffic(cp16, ocpp="ocpp1.6"), Traffic(cp201, ocpp="ocpp2.0.1")
    session_16(t16)
    session_201(t201)
    await publish(bus, t16)
    await publish(bus, t201)

    settings = settings_for(journal_db)
    async with run_journal(settings) as journal:

        async def ended() -> list[dict[str, Any]] | None:
            resp = await journal.client.get("/sessions", params={"status": "ended"})
            found = [s for s in resp.json() if s["charger_id"] in (cp16, cp201)]
            return found if len(found) == 2 else None

        sessions = {s["charger_id"]: s for s in await wait_for(ended, "two ended sessions")}
        await bus.wait_settled(settings.consumer_name)
        await journal.wait_metric("sy_journal_outbox_events", lambda v: v == 0)
        status = (await journal.client.get(f"/chargers/{cp16}/status")).json()
        one = await journal.client.get(f"/sessions/{sessions[cp16]['gateway_transaction_id']}")

    s16, s201 = sessions[cp16], sessions[cp201]
    same = (
        "evse_id",
        "connector_id",
        "id_token",
        "status",
        "started_at",
        "stopped_at",
        "meter_start_wh",
        "meter_stop_wh",
        "energy_wh",
        "stop_reason",
        "backends",
        "charger_acknowledged",
    )
    assert {k: s16[k] for k in same} == {k: s201[k] for k in same}
    assert s16["energy_wh"] == 3500.0
    assert s16["backend_transaction_ids"] == {"legacy": "1001", "new": "55"}
    assert s201["backend_transaction_ids"] == {"legacy": "f3a1-7c", "new": "f3a1-7c"}
    assert one.json() == s16
    assert [(s["status"], s["detail"]) for s in status] == [("occupied", "preparing")]

    # Every derived event is on SY_EVENTS exactly once, validates against its schema file,
    # and carries a Nats-Msg-Id derived from its frame's stream sequence.
    on_stream = await events_on_stream(nats_server.url, cp16)
    ids = [e["doc"]["event_id"] for e in on_stream]
    assert len(ids) == len(set(ids)) > 10
    for e in on_stream:
        doc = e["doc"]
        schema = json.loads((DOCS / f"schemas/{doc['type']}.json").read_text())
        jsonschema.validate(doc, schema)
        assert e["subject"] == f"sy.events.{doc['type']}.{cp16}"
        assert e["hdr"]["Nats-Msg-Id"] == doc["event_id"] == f"f{doc['frame_seq']}-0"
        parse_event(json.dumps(doc))

    # A second consumer name replays all of SY_FRAMES into the same database: nothing is
    # stored or published twice.
    replay = settings_for(journal_db, consumer_name=f"{settings.consumer_name}-again")
    async with run_journal(replay) as journal:
        await bus.wait_settled(replay.consumer_name)
        sessions_again = (await journal.client.get("/sessions", params={"charger_id": cp16})).json()
    assert sessions_again == [s16]
    assert len(await events_on_stream(nats_server.url, cp16)) == len(on_stream)


async def test_reconciliation_finds_the_session_one_backend_never_acknowledged(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    good, bad = charger("CP-rec-ok"), charger("CP-rec-miss")
    # Its own day: every test's consumer replays the whole shared stream into its database.
    t_good, t_bad = Traffic(good, now=T_REC), Traffic(bad, now=T_REC + 10**9)
    session_16(t_good)
    session_16(t_bad, new_answers_start=False)  # 'new' never answered this start
    await publish(bus, t_good)
    await publish(bus, t_bad)
    window = {"since": "2031-03-01T00:00:00Z", "until": "2031-03-02T00:00:00Z"}

    async with run_journal(settings_for(journal_db)) as journal:

        async def both_ended() -> bool:
            resp = await journal.client.get("/sessions", params={"status": "ended", **window})
            return len(resp.json()) == 2

        await wait_for(both_ended, "two sessions")
        new = await journal.client.get("/reconciliation", params={"backend": "new", **window})
        legacy = await journal.client.get("/reconciliation", params={"backend": "legacy", **window})
        other = await journal.client.get(
            "/reconciliation",
            params={"backend": "nobody", "include_not_sent": "true", **window},
        )

    report = new.json()
    assert (report["sessions_seen"], report["sent_to_backend"], report["acknowledged"]) == (2, 2, 1)
    [diff] = report["differences"]
    assert diff["charger_id"] == bad
    assert diff["problems"] == ["start_not_acknowledged"]
    assert diff["backend_transaction_id"] is None
    assert legacy.json()["differences"] == []
    assert legacy.json()["acknowledged"] == 2
    assert other.json()["not_sent"] == 2
    assert [d["problems"] for d in other.json()["differences"]] == [["not_sent"]] * 2
