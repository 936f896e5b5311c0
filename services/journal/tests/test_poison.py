"""Input from one charger that Postgres cannot hold never stops the journal for the others.

Each input arrives among good frames of other chargers, in one batch: every frame is stored, the
other chargers' events are stored, and ingest keeps going. What cannot be made harmless where it
is derived is caught when the batch is written: the frames responsible are stored raw without
their events, and the rest of the batch commits.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
import nats
import orjson
import pytest

from sy_bus import FrameDirection, FrameRecord, streams
from sy_devkit.embedded_nats import EmbeddedNats
from sy_devkit.waiting import eventually
from sy_events import (
    BootReported,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    EventBase,
    Normaliser,
    parse_event,
    subject_for,
    to_json,
)
from sy_events.models import event_type
from sy_events.samples import Traffic
from sy_journal import ingest
from sy_journal.db import dsn

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]

FROM_CHARGER = FrameDirection.FROM_CHARGER
OK: dict[str, Any] = {"legacy": {}}
BOOTED: dict[str, Any] = {
    "legacy": {"status": "Accepted", "currentTime": "2023-11-14T22:13:20Z", "interval": 60}
}


def good_traffic(cp16: str, cp201: str) -> list[Traffic]:
    a, b = Traffic(cp16), Traffic(cp201, ocpp="ocpp2.0.1", connection_id="conn-2")
    a.exchange("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, BOOTED)
    a.exchange("StatusNotification", {"connectorId": 1, "status": "Available"}, OK)
    a.exchange("Authorize", {"idTag": "OK"}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    b.exchange("BootNotification", {"chargingStation": {"vendorName": "V", "model": "M"}}, BOOTED)
    b.exchange(
        "StatusNotification",
        {"timestamp": "2023-11-14T22:13:30Z", "connectorStatus": "Occupied", "evseId": 1,
         "connectorId": 1},
        OK,
    )  # fmt: skip
    return [a, b]


def types(events: list[EventBase]) -> Counter[str]:
    return Counter(event_type(type(e)) for e in events)


@dataclass
class Stored:
    """What the journal's database holds for the test's chargers."""

    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by charger
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by charger
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by charger

    def event_types(self, charger_id: str) -> Counter[str]:
        return Counter(e["type"] for e in self.events.get(charger_id, []))


async def read_back(db: str, chargers: list[str]) -> Stored:
    conn = await asyncpg.connect(dsn(db))
    try:
        out = Stored()
        for table, into in (
            ("frames", out.frames),
            ("events", out.events),
            ("status_history", out.statuses),
        ):
            order = "stream_seq" if table == "frames" else "ts, event_id"
            rows = await conn.fetch(
                f"SELECT * FROM journal.{table} WHERE charger_id = ANY($1) ORDER BY {order}",
                chargers,
            )
            for row in rows:
                into.setdefault(row["charger_id"], []).append(dict(row))
        return out
    finally:
        await conn.close()


@dataclass
class Run:
    """Good traffic of two chargers with one charger's frames among it, all in one batch."""

    bus: FrameBus
    db: str
    settings: JournalSettings
    run_journal: RunJournal
    good: list[Traffic]
    poison: list[FrameRecord]
    seqs: dict[str, list[int]] = field(default_factory=dict)  # stream sequences by charger

    async def publish(self) -> None:
        a, b = self.good
        # Interleaved on the stream and in capture time: one batch, the chargers side by side.
        for record in [r for _, r in a.frames] + self.poison + [r for _, r in b.frames]:
            seq = await self.bus.publish(record)
            self.seqs.setdefault(record.charger_id, []).append(seq)

    @asynccontextmanager
    async def journal(self, settings: JournalSettings | None = None) -> AsyncIterator[Journal]:
        """The journal once everything published is stored and acknowledged."""
        settings = settings or self.settings
        async with self.run_journal(settings) as journal:
            for charger_id, seqs in self.seqs.items():
                await journal.wait_frames(charger_id, len(seqs))
            await self.bus.wait_settled(settings.consumer_name)
            yield journal

    async def still_ingesting(self, journal: Journal) -> None:
        """A frame published now is stored: the journal did not stop."""
        a = self.good[0]
        a.exchange("Heartbeat", {}, {"legacy": {"currentTime": "2023-11-14T22:13:20Z"}})
        later = await self.bus.publish(a.frames[-1][1])
        frames = await journal.wait_frames(a.charger_id, len(self.seqs[a.charger_id]) + 1)
        assert frames[-1]["seq"] == later
        ready = await journal.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        self.seqs[a.charger_id].append(later)

    async def stored(self) -> Stored:
        stored = await read_back(self.db, list(self.seqs))
        # Every frame published is stored, once, whatever its charger sent.
        for charger_id, seqs in self.seqs.items():
            assert [f["stream_seq"] for f in stored.frames[charger_id]] == sorted(seqs)
        # The good chargers' events are all there.
        for t in self.good:
            assert stored.event_types(t.charger_id) == types(t.events()), t.charger_id
        # Every stored event is a canonical event (as published on SY_EVENTS).
        for events in stored.events.values():
            for e in events:
                parse_event(e["body"])
        return stored


@pytest.fixture
def run(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> Callable[[list[FrameRecord]], Run]:
    good = good_traffic(charger("CP-good-16"), charger("CP-good-201"))
    return lambda poison: Run(bus, journal_db, settings_for(journal_db), run_journal, good, poison)


async def test_a_status_for_a_connector_id_beyond_32_bits(
    run: Callable[[list[FrameRecord]], Run],
    charger: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp = charger("CP-big-id")
    t = Traffic(cp)
    t.exchange("StatusNotification", {"connectorId": 2**31, "status": "Faulted"}, OK)
    t.exchange("StatusNotification", {"connectorId": 2**63, "status": "Faulted"}, OK)
    t.exchange("StatusNotification", {"connectorId": 1, "status": "Available"}, OK)
    t201 = Traffic(cp, ocpp="ocpp2.0.1", connection_id="conn-3")
    t201.exchange(
        "StatusNotification",
        {"timestamp": "2023-11-14T22:13:30Z", "connectorStatus": "Occupied", "evseId": 1,
         "connectorId": 2**40},
        OK,
    )  # fmt: skip
    r = run([rec for _, rec in t.frames + t201.frames])
    await r.publish()
    with caplog.at_level(logging.WARNING, logger="sy_journal"):
        async with r.journal() as journal:
            await r.still_ingesting(journal)

    stored = await r.stored()
    # The events are stored as derived (OCPP sets no upper bound); status history holds the
    # status it can: the one for connector 1.
    assert stored.event_types(cp) == types(t.events()) + types(t201.events())
    assert [(s["evse_id"], s["status"]) for s in stored.statuses[cp]] == [(1, "available")]
    assert f"charger '{cp}' reported a status for EVSE {2**31}" in caplog.text


async def test_nul_characters_in_what_a_charger_sends(
    run: Callable[[list[FrameRecord]], Run], charger: Callable[[str], str]
) -> None:
    cp = charger("CP-nul")
    t = Traffic(cp)
    t.exchange("BootNotification", {"chargePointVendor": "V\x00", "chargePointModel": "M"}, BOOTED)
    t.exchange(
        "StatusNotification",
        {"connectorId": 1, "status": "Faulted", "errorCode": "OtherError", "info": "bad\x00info",
         "vendorErrorCode": "\x00"},
        OK,
    )  # fmt: skip
    t.exchange("Authorize", {"idTag": "T\x00"}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    # A message id with a NUL (decoded from JSON by the edge), and a frame the edge refused as
    # malformed and captured as received: a NUL character itself in the text.
    ts_ns = t.frames[-1][1].ts_ns
    odd_id = FrameRecord(
        cp,
        FROM_CHARGER,
        ts_ns,
        "ocpp1.6",
        '[2,"h\\u0000","Heartbeat",{}]',
        message_type=2,
        message_id="h\x00",
        action="Heartbeat",
        instance="edge-0",
        connection_id="conn-1",
    )
    malformed = FrameRecord(
        cp, FROM_CHARGER, ts_ns, "ocpp1.6", '[2,"m","Heart\x00beat"', instance="edge-0"
    )
    r = run([rec for _, rec in t.frames] + [odd_id, malformed])
    await r.publish()
    async with r.journal() as journal:
        await r.still_ingesting(journal)

    stored = await r.stored()
    frames = stored.frames[cp]
    raws = [f["raw"] for f in frames]
    # JSON carries the NUL escaped: six plain characters, stored as captured.
    assert [rec.raw for _, rec in t.frames] == raws[: len(t.frames)]
    assert odd_id.raw in raws
    # A NUL character itself is stored as those six characters.
    assert '[2,"m","Heart\\u0000beat"' in raws
    assert "h\\u0000" in [f["message_id"] for f in frames]
    # The charger's events are stored too, with every NUL escaped.
    assert stored.event_types(cp) == types(t.events())
    bodies = {e["type"]: orjson.loads(e["body"]) for e in stored.events[cp]}
    assert bodies["boot_reported"]["vendor"] == "V\\u0000"
    assert bodies["authorization_requested"]["id_token"]["value"] == "T\\u0000"
    [status] = stored.statuses[cp]
    assert (status["info"], status["vendor_error_code"]) == ("bad\\u0000info", "\\u0000")


async def test_meter_values_that_are_no_number(
    run: Callable[[list[FrameRecord]], Run], charger: Callable[[str], str]
) -> None:
    cp = charger("CP-nan")
    t = Traffic(cp)
    start = {"connectorId": 1, "idTag": "T", "meterStart": "NaN", "timestamp": "2023-11-14T22:14Z"}
    t.exchange("StartTransaction", start, {"legacy": {"transactionId": 5}})
    samples = [{"value": v} for v in ("NaN", "nan", "inf", "-Infinity", "1e400", "12")]
    t.exchange(
        "MeterValues",
        {"connectorId": 1, "transactionId": 5,
         "meterValue": [{"timestamp": "2023-11-14T22:20:00Z", "sampledValue": samples}]},
        OK,
    )  # fmt: skip
    stop = {"transactionId": 5, "meterStop": "Infinity", "timestamp": "2023-11-14T22:44:00Z"}
    t.exchange("StopTransaction", stop, OK)
    r = run([rec for _, rec in t.frames])
    await r.publish()
    async with r.journal() as journal:
        await r.still_ingesting(journal)
        [session] = (await journal.client.get("/sessions", params={"charger_id": cp})).json()

    stored = await r.stored()  # every body parses: no reading is null
    assert stored.event_types(cp) == types(t.events())
    bodies = [orjson.loads(e["body"]) for e in stored.events[cp]]
    [updated] = [b for b in bodies if b["type"] == "transaction_updated"]
    assert [(x["value"], x["unit"]) for x in updated["readings"]] == [(12.0, "Wh")]
    # No register at the start or stop: the reading in between is the only one.
    assert (session["status"], session["meter_stop_wh"], session["last_meter_wh"]) == (
        "ended",
        None,
        12.0,
    )


class Poisoning(Normaliser):
    """Derives what the normaliser never does, for one charger: events Postgres rejects."""

    def __init__(self, charger_id: str) -> None:
        super().__init__()
        self.charger_id = charger_id

    def feed(self, seq: int, record: FrameRecord) -> list[EventBase]:
        events = super().feed(seq, record)
        if record.charger_id != self.charger_id:
            return events
        out: list[EventBase] = []
        for e in events:
            if isinstance(e, BootReported):  # NUL in jsonb: UntranslatableCharacterError
                e = e.model_copy(update={"vendor": "V\x00"})
            elif isinstance(e, ConnectorStatusChanged) and e.evse_id == 1:  # bigint column
                e = e.model_copy(update={"frame_seq": 2**63})
            elif isinstance(e, ConnectorStatusChanged):  # a Python error making the row
                e = e.model_copy(update={"reported_at": datetime.fromisoformat(FAR)})
            out.append(e)
        return out


FAR = "9999-12-31T23:00:00-02:00"  # no UTC datetime in Python


async def test_a_batch_postgres_rejects_is_stored_without_the_events_responsible(
    run: Callable[[list[FrameRecord]], Run],
    charger: Callable[[str], str],
    settings_for: SettingsFor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cp = charger("CP-poison")
    monkeypatch.setattr(ingest, "Normaliser", lambda: Poisoning(cp))
    t = Traffic(cp)
    t.exchange("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, BOOTED)
    t.exchange("StatusNotification", {"connectorId": 1, "status": "Available"}, OK)
    t.exchange("Authorize", {"idTag": "OK"}, {"legacy": {"idTagInfo": {"status": "Accepted"}}})
    t.exchange("StatusNotification", {"connectorId": 2, "status": "Available"}, OK)
    r = run([rec for _, rec in t.frames])
    await r.publish()
    calls = [
        seq
        for seq, (_, rec) in zip(r.seqs[cp], t.frames, strict=True)
        if rec.direction is FROM_CHARGER and rec.message_type == 2
    ]
    poisoned = [calls[0], calls[1], calls[3]]  # boot, status 1, status 2: the charger's CALLs
    with caplog.at_level(logging.WARNING, logger="sy_journal"):
        async with r.journal() as journal:
            await r.still_ingesting(journal)
            data_errors = await journal.metric("sy_journal_ingest_errors_total", kind="data")

    stored = await r.stored()  # every frame, the good chargers' events
    # The poisoned frames are stored without their events; the charger's other events are not
    # lost with them.
    assert not [e for e in stored.events[cp] if e["frame_seq"] in poisoned]
    assert stored.event_types(cp) == types(t.events()) - Counter(
        {"boot_reported": 1, "connector_status_changed": 2}
    )
    assert cp not in stored.statuses
    assert data_errors >= 3
    for seq in poisoned:
        assert f"frame {seq} of charger '{cp}': its 1 derived events" in caplog.text

    # A redelivery (another consumer replays the stream into the same database) changes nothing.
    replay = settings_for(r.db, consumer_name=f"{r.settings.consumer_name}-replay")
    async with r.journal(replay):
        pass
    again = await r.stored()
    assert again.frames == stored.frames
    assert again.events == stored.events


async def test_an_event_from_sy_events_postgres_rejects_is_terminated(
    nats_server: EmbeddedNats,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = charger("CP-ev-good"), charger("CP-ev-bad")
    at = datetime.fromisoformat("2023-11-14T22:13:20+00:00")

    def presence(cp: str, n: int, **fields: Any) -> EventBase:
        common = {"event_id": f"{cp}-{n}", "charger_id": cp, "ts": at, "instance": "edge-0"}
        if fields:
            return ChargerDisconnected(**common, **fields)
        return ChargerConnected(**common)

    events = [
        presence(good, 1),
        presence(bad, 1),
        presence(bad, 2, reason="nul\x00"),  # as another service might publish it
        presence(good, 2, reason="ping_timeout"),
    ]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    seqs = [(await js.publish(subject_for(e), to_json(e))).seq for e in events]
    settings = settings_for(journal_db)
    consumer = f"{settings.consumer_name}-events"

    async def stored_ids() -> list[str]:
        rows = await read_back(journal_db, [good, bad])
        return sorted(e["event_id"] for evs in rows.events.values() for e in evs)

    with caplog.at_level(logging.WARNING, logger="sy_journal"):
        async with run_journal(settings):
            await eventually(lambda: _settled(js, consumer), 20, "the events consumer to settle")
            first = await stored_ids()
            later = presence(good, 3)
            await js.publish(subject_for(later), to_json(later))

            async def three_good() -> bool:
                return len([i for i in await stored_ids() if i.startswith(good)]) == 3

            await eventually(three_good, 20, "the later event")
    await nc.close()

    assert first == sorted([f"{good}-1", f"{good}-2", f"{bad}-1"])
    assert f"event (charger_disconnected) {seqs[2]} of charger '{bad}'" in caplog.text


async def _settled(js: Any, consumer: str) -> bool:
    info = await js.consumer_info(streams.EVENTS.name, consumer)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
