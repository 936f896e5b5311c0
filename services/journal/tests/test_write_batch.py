"""`write_batch` against Postgres: every row exactly as the frames and events say, once.

What journal.frames, events, status_history, sessions and event_outbox hold is a contract (the
API, exports and reconciliation read it; SY_EVENTS carries the outbox): this pins it value by
value for a batch of both OCPP versions, and that a redelivered batch changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import orjson
import pytest

from sy_bus import FrameDirection, FrameRecord
from sy_devkit.inprocess import migrate
from sy_events import ConnectorStatusChanged, EventBase, Normaliser, subject_for, to_json
from sy_events.samples import Traffic, session_16, session_201
from sy_events.sessions import Session, apply, transaction_of
from sy_journal.db import dsn
from sy_journal.partitions import PARTITIONED, Partitions, day_of
from sy_journal.store import Written, event_row, row_of, status_row, write_batch


@pytest.fixture
async def conn(new_database: Callable[[], str]) -> AsyncIterator[asyncpg.Connection]:
    db = new_database()
    await migrate("sy_journal", db)
    connection = await asyncpg.connect(dsn(db))
    yield connection
    await connection.close()


def traffic() -> list[tuple[int, FrameRecord]]:
    t16, t201 = Traffic("CP-w16"), Traffic("CP-w201", ocpp="ocpp2.0.1", connection_id="c-2")
    session_16(t16)
    session_201(t201)
    t16.exchange(
        "StatusNotification",
        {"connectorId": 0, "status": "Faulted", "errorCode": "GroundFailure", "info": "ü"},
        {"legacy": {}},
    )
    # A charger's clock with an offset in seconds: stored as the same instant.
    t16.exchange(
        "StatusNotification",
        {"connectorId": 2, "status": "Charging", "timestamp": "2023-11-14T23:13:30.5+01:00:10"},
        {"legacy": {}},
    )
    t16.exchange(
        "StartTransaction",
        {
            "connectorId": 2,
            "idTag": "T",
            "meterStart": 5,
            "timestamp": "2023-11-14T20:00:00-02:30:30",
        },
        {"legacy": {"transactionId": 77}},
    )
    records = sorted([r for _, r in t16.frames + t201.frames], key=lambda r: r.ts_ns)
    rewritten = FrameRecord(
        "CP-w16",
        FrameDirection.FROM_CHARGER,
        records[-1].ts_ns + 1,
        "ocpp1.6",
        '[2,"q1","Heartbeat",{ }]',
        message_type=None,
        normalized='[2,"q1","Heartbeat",{}]',
        rules=["strip-space", 'quo"te, {brace} ü'],
        instance="edge-1",
    )
    return list(enumerate([*records, rewritten], 1000))


async def store(
    conn: asyncpg.Connection, frames: list[tuple[int, FrameRecord]], events: list[EventBase]
) -> Written:
    rows = [row_of(seq, r) for seq, r in frames]
    days = {r["ts"].date() for r in rows} | {day_of(e.ts) for e in events}
    await Partitions().ensure(conn, PARTITIONED, days)
    async with conn.transaction():
        written: Written = await write_batch(conn, rows, events)
    return written


async def test_a_batch_is_stored_value_by_value_and_a_redelivery_changes_nothing(
    conn: asyncpg.Connection,
) -> None:
    frames = traffic()
    normaliser = Normaliser()
    events = [e for seq, r in frames for e in normaliser.feed(seq, r)]
    assert any(isinstance(e, ConnectorStatusChanged) for e in events)
    half = len(frames) // 2
    first = [e for e in events if e.frame_seq is not None and e.frame_seq < frames[half][0]]
    written = await store(conn, frames[:half], first)
    assert (written.frames, written.events) == (half, first)
    written = await store(conn, frames[half:], events[len(first) :])
    assert (written.frames, written.events) == (len(frames) - half, events[len(first) :])

    stored = await conn.fetch("SELECT * FROM journal.frames ORDER BY stream_seq")
    assert [dict(r) for r in stored] == [row_of(seq, r) for seq, r in frames]

    rows = await conn.fetch("SELECT * FROM journal.events ORDER BY frame_seq, event_id")
    by_id = {e.event_id: e for e in events}
    assert sorted(r["event_id"] for r in rows) == sorted(by_id)
    for row in rows:
        e = by_id[row["event_id"]]
        expected = event_row(e)
        assert {**dict(row), "body": None} == {**expected, "body": None}
        assert orjson.loads(row["body"]) == orjson.loads(to_json(e)) == e.model_dump(mode="json")

    statuses = await conn.fetch("SELECT * FROM journal.status_history ORDER BY ts, event_id")
    assert [dict(r) for r in statuses] == [
        status_row(e) for e in events if isinstance(e, ConnectorStatusChanged)
    ]

    outbox = await conn.fetch(
        "SELECT event_id, subject, data FROM journal.event_outbox ORDER BY position"
    )
    assert [tuple(r.values()) for r in outbox] == [
        (e.event_id, subject_for(e), to_json(e)) for e in events
    ]

    sessions: dict[str, Session] = {}
    for e in events:
        gtx = transaction_of(e)
        if gtx is not None:
            folded = apply(sessions.get(gtx), e)
            assert folded is not None
            sessions[gtx] = folded
    assert len(sessions) == 3
    stored_sessions = await conn.fetch("SELECT * FROM journal.sessions")
    for row in stored_sessions:
        s = sessions[row["gateway_transaction_id"]]
        assert orjson.loads(row["doc"]) == orjson.loads(s.model_dump_json())
        assert (row["charger_id"], row["status"], row["started_at"], row["stopped_at"]) == (
            s.charger_id,
            s.status,
            s.started_at,
            s.stopped_at,
        )
        assert (row["first_seen"], row["last_seen"]) == (s.first_seen, s.last_seen)

    # The same batch again (a redelivery): nothing new, nothing changed, nothing to publish.
    before = await _everything(conn)
    written = await store(conn, frames, events)
    assert (written.frames, written.events) == (0, [])
    assert await _everything(conn) == before


async def _everything(conn: asyncpg.Connection) -> dict[str, Any]:
    out = {}
    for table in ("frames", "events", "status_history", "sessions", "event_outbox"):
        out[table] = sorted(map(tuple, await conn.fetch(f"SELECT * FROM journal.{table}")))
    return out


def test_an_event_row_holds_the_json_published_which_is_what_the_journal_stored_before() -> None:
    frames = traffic()
    normaliser = Normaliser()
    for seq, record in frames:
        for e in normaliser.feed(seq, record):
            body = orjson.dumps(e.model_dump(mode="json"))  # journal.events.body before
            assert orjson.dumps(event_row(e)["body"]) == body == to_json(e)
            assert orjson.dumps(event_row(e, to_json(e))["body"]) == body
            assert event_row(e)["type"] == e.model_dump()["type"]


def _status(**changes: Any) -> ConnectorStatusChanged:
    t = Traffic("CP-w-odd")
    t.exchange("StatusNotification", {"connectorId": 1, "status": "Available"}, {"legacy": {}})
    [event] = [e for e in t.events() if isinstance(e, ConnectorStatusChanged)]
    return event.model_copy(update=changes)  # as no normaliser derives it: unvalidated


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param(
            {"info": "a\x00b"}, asyncpg.UntranslatableCharacterError, id="nul-in-text-and-jsonb"
        ),
        pytest.param(
            {"frame_seq": 2**63}, asyncpg.NumericValueOutOfRangeError, id="bigint-out-of-range"
        ),
    ],
)
async def test_values_postgres_cannot_hold_fail_the_batch_with_a_data_error(
    conn: asyncpg.Connection, changes: dict[str, Any], error: type[Exception]
) -> None:
    # What the ingest's safety net is for: a batch with one of these fails on every retry.
    assert issubclass(error, asyncpg.DataError)
    with pytest.raises(error):
        await store(conn, [], [_status(**changes)])


@pytest.mark.parametrize(
    "ids",
    [{"evse_id": 2**31}, {"evse_id": 2**63}, {"evse_id": -1}, {"connector_id": 2**40}],
    ids=["evse-2^31", "evse-2^63", "evse-negative", "connector-2^40"],
)
async def test_a_status_with_an_id_out_of_range_is_stored_as_an_event_without_a_status_row(
    conn: asyncpg.Connection, ids: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    # OCPP sets no upper bound on EVSE and connector ids; status_history holds 32 bits.
    odd, fine = _status(**ids), _status(event_id="f2-0", evse_id=2**31 - 1)
    written = await store(conn, [], [odd, fine])
    assert written.events == [odd, fine]
    rows = await conn.fetch("SELECT event_id, evse_id FROM journal.status_history")
    assert [tuple(r.values()) for r in rows] == [("f2-0", 2**31 - 1)]
    body = await conn.fetchval("SELECT body FROM journal.events WHERE event_id = $1", odd.event_id)
    assert orjson.loads(body) == orjson.loads(to_json(odd))
    assert "'CP-w-odd'" in caplog.text and "not a valid id" in caplog.text
