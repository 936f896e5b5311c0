"""SY_FRAMES -> journal.frames: order, de-duplication, bad input, database outages, restarts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY

from sy_bus import FrameDirection, FrameRecord, subjects
from sy_devkit.inprocess import migrate

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from sy_journal.settings import JournalSettings

    from .conftest import FrameBus, Journal

    RunJournal = Callable[[JournalSettings], AbstractAsyncContextManager[Journal]]
    SettingsFor = Callable[..., JournalSettings]


STORED = "sy_journal_frames_stored_total"
T0 = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z
MS = 1_000_000
FROM_CHARGER = FrameDirection.FROM_CHARGER
TO_CHARGER = FrameDirection.TO_CHARGER
TO_BACKEND = FrameDirection.TO_BACKEND
FROM_BACKEND = FrameDirection.FROM_BACKEND


def stored_total() -> float:
    return REGISTRY.get_sample_value(STORED) or 0.0


async def test_frames_are_stored_and_served_in_capture_order_per_charger(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    # '.', ' ' and '/' are legal in an OCPP identity but not in a subject token or URL segment.
    cp_a, cp_b = charger("CP.A 1/x"), charger("CP-B")
    boot = '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
    accepted = '[3,"b1",{"status":"Accepted","currentTime":"2023-11-14T22:13:20Z","interval":60}]'
    # (charger, direction, ts_ns offset, raw, extra fields) in publish order: the capture order
    # is by ts_ns, so a0 (published late, captured first) must come first; a5/a6 tie on ts_ns.
    plan: list[tuple[str, str, FrameDirection, int, str, dict[str, Any]]] = [
        ("a1", cp_a, FROM_CHARGER, 1, boot, {"message_type": 2, "action": "BootNotification"}),
        ("b1", cp_b, FROM_CHARGER, 1, '[2,"h",' + '"Heartbeat",{}]', {"message_type": 2}),
        ("a2", cp_a, TO_BACKEND, 2, boot, {"message_type": 2, "backend": "legacy"}),
        ("a3", cp_a, FROM_BACKEND, 3, accepted, {"message_type": 3, "backend": "legacy"}),
        ("b2", cp_b, TO_CHARGER, 2, '[3,"h",{}]', {"message_type": 3}),
        ("a4", cp_a, TO_CHARGER, 4, accepted, {"message_type": 3}),
        ("a0", cp_a, FROM_CHARGER, 0, "not even JSON", {}),
        ("a5", cp_a, TO_BACKEND, 5, '[2,"r",' + '"Reset",{}]', {"message_id": "r"}),
        ("a6", cp_a, FROM_BACKEND, 5, '[2,"s",' + '"Reset",{}]', {"message_id": "s"}),
    ]
    seqs: dict[str, int] = {}
    for name, cp, direction, offset, raw, extra in plan:
        seqs[name] = await bus.publish(bus.record(cp, direction, T0 + offset * MS, raw, **extra))

    settings = settings_for(journal_db)
    async with run_journal(settings) as journal:
        ready = await journal.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"nats": "ok", "database": "ok", "ingest": "ok"}
        frames_a = await journal.wait_frames(cp_a, 7)
        frames_b = await journal.wait_frames(cp_b, 2)
        await bus.wait_settled(settings.consumer_name)  # acked once committed

    assert [f["seq"] for f in frames_a] == [
        seqs[n] for n in ("a0", "a1", "a2", "a3", "a4", "a5", "a6")
    ]
    assert [f["seq"] for f in frames_b] == [seqs["b1"], seqs["b2"]]
    assert frames_a[0]["ts"] == "2023-11-14T22:13:20.123456Z"
    assert frames_a[1] == {
        "seq": seqs["a1"],
        "ts": "2023-11-14T22:13:20.124456Z",
        "ts_ns": T0 + MS,
        "direction": "from_charger",
        "ocpp": "ocpp1.6",
        "message_type": 2,
        "message_id": None,
        "action": "BootNotification",
        "backend": None,
        "instance": "edge-0",
        "raw": boot,
    }
    assert [(f["direction"], f["backend"], f["raw"]) for f in frames_a[2:5]] == [
        ("to_backend", "legacy", boot),
        ("from_backend", "legacy", accepted),
        ("to_charger", None, accepted),
    ]
    assert frames_a[0]["raw"] == "not even JSON"  # stored as captured, even when not OCPP-J
    assert [f["message_id"] for f in frames_a[5:]] == ["r", "s"]
    assert [f["direction"] for f in frames_b] == ["from_charger", "to_charger"]


async def test_a_frame_published_twice_with_one_msg_id_is_stored_once(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-dup")
    frame = bus.record(cp, FROM_CHARGER, T0, '[2,"1","Heartbeat",{}]')
    first = await bus.publish(frame, msg_id=f"{cp}-1")
    again = await bus.publish(frame, msg_id=f"{cp}-1")  # a producer retrying after a lost ack
    later = await bus.publish(bus.record(cp, FROM_CHARGER, T0 + MS, '[2,"2","Heartbeat",{}]'))
    assert again == first

    async with run_journal(settings_for(journal_db)) as journal:
        frames = await journal.wait_frames(cp, 2)

    assert [f["seq"] for f in frames] == [first, later]


async def test_garbage_is_terminated_and_frames_after_it_are_stored(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-garbage")
    subject = subjects.frames(cp, FROM_CHARGER)
    good = bus.record(cp, FROM_CHARGER, T0, '[2,"1","Heartbeat",{}]')
    garbage = [
        b"\xff\xfe not json",
        b'{"charger_id": "only this"}',
        good.to_bytes().replace(b'"ts_ns":', b'"ts_ns":"x","was":'),
    ]  # (a NUL inside is no garbage: the frame is stored, see test_poison.py)
    for data in garbage:
        await bus.publish_raw(subject, data)
    after = await bus.publish(good)

    settings = settings_for(journal_db)
    async with run_journal(settings) as journal:
        frames = await journal.wait_frames(cp, 1)
        # Garbage is terminated, not left for redelivery; stored frames are acknowledged.
        await bus.wait_settled(settings.consumer_name)
        # This consumer replays the whole shared stream, so earlier tests' garbage counts too.
        decode_errors = await journal.metric("sy_journal_ingest_errors_total", kind="decode")
        ready = await journal.client.get("/readyz")

    assert [f["seq"] for f in frames] == [after]
    assert decode_errors >= len(garbage)
    assert ready.status_code == 200, ready.text


async def test_a_database_outage_is_retried_until_the_frames_are_stored(
    bus: FrameBus,
    new_database: Callable[[], str],
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-outage")
    db = new_database()  # no schema yet: every insert fails until it is migrated
    seq = await bus.publish(bus.record(cp, TO_BACKEND, T0, '[2,"1","Heartbeat",{}]'))

    async with run_journal(settings_for(db)) as journal:
        before = await journal.metric("sy_journal_ingest_errors_total", kind="database")
        await journal.wait_metric(
            "sy_journal_ingest_errors_total", lambda v: v >= before + 2, kind="database"
        )
        ready = await journal.client.get("/readyz")
        assert ready.json()["checks"]["ingest"] == "ok"  # failing batches do not kill the loop
        await migrate("sy_journal", db)
        frames = await journal.wait_frames(cp, 1)

    assert [f["seq"] for f in frames] == [seq]


async def test_restarts_store_nothing_twice_and_keep_consuming(
    bus: FrameBus,
    journal_db: str,
    settings_for: SettingsFor,
    run_journal: RunJournal,
    charger: Callable[[str], str],
) -> None:
    cp = charger("CP-restart")
    settings = settings_for(journal_db)

    def frame(i: int) -> FrameRecord:
        return bus.record(cp, FROM_CHARGER, T0 + i * MS, f'[2,"{i}","Heartbeat",{{}}]')

    seqs = [await bus.publish(frame(i)) for i in range(3)]
    async with run_journal(settings) as journal:
        await journal.wait_frames(cp, 3)

    seqs += [await bus.publish(frame(i)) for i in range(3, 5)]  # published while it was down
    before = stored_total()  # read in-process: no app is running to serve /metrics
    async with run_journal(settings) as journal:
        await journal.wait_frames(cp, 5)
        seqs.append(await bus.publish(frame(5)))
        frames = await journal.wait_frames(cp, 6)
        # The durable consumer resumes where it stopped: exactly the three new frames are stored.
        await journal.wait_metric(STORED, lambda v: v >= before + 3)
        assert await journal.metric(STORED) == before + 3
        await journal.wait_metric("sy_journal_lag_messages", lambda v: v == 0)
    assert [f["seq"] for f in frames] == seqs

    # A new consumer name replays the whole stream into the same database (a lost consumer, or
    # a second replica): the unique stream sequence keeps one row per frame.
    before = stored_total()
    replay = settings_for(journal_db, consumer_name=f"{settings.consumer_name}-replay")
    async with run_journal(replay) as journal:
        seqs.append(await bus.publish(frame(6)))
        frames = await journal.wait_frames(cp, 7)
        await journal.wait_metric(STORED, lambda v: v >= before + 1)
        stored_by_replay = await journal.metric(STORED) - before
    assert [f["seq"] for f in frames] == seqs
    assert stored_by_replay == 1


async def test_readiness_fails_once_ingest_has_stopped(
    journal_db: str, settings_for: SettingsFor, run_journal: RunJournal
) -> None:
    async with run_journal(settings_for(journal_db)) as journal:
        assert (await journal.client.get("/readyz")).status_code == 200
        await journal.app.state.ingest.stop()
        ready = await journal.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["ingest"].startswith("failing: ingest stopped")
