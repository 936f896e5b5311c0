"""Trace search: frames across chargers, and whole conversations with the gateway's latency.

A conversation groups a charger's frames into exchanges (a CALL and its answers on every hop)
with `sy_events.correlate`, the same code the normaliser uses, so what the trace shows and what
the events say cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg  # type: ignore[import-untyped]
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from sy_bus import FrameDirection, FrameRecord
from sy_events.correlate import CALLERROR, CALLRESULT, Correlator, Exchange, Origin, Seen, seen
from sy_journal.api.deps import ChargerFilter, PoolDep, Since, Until, check_window, clamp_ns
from sy_journal.store import ts_from_ns

router = APIRouter(tags=["traces"])

MAX_LIMIT = 10_000
# Frames around a transaction's events that may belong to its exchanges (answers, legs).
SLACK_NS = 120 * 1_000_000_000

FRAME_SQL = (
    "SELECT stream_seq, charger_id, direction, ts_ns, ocpp, message_type, message_id, action, "
    "backend, instance, connection_id, raw, normalized FROM journal.frames"
)


class TraceFrame(BaseModel):
    seq: int = Field(description="SY_FRAMES stream sequence.")
    ts: datetime = Field(description="Capture time (UTC, microseconds).")
    ts_ns: int = Field(description="Capture time, nanoseconds since the epoch.")
    charger_id: str = Field(description="The charger.")
    direction: FrameDirection = Field(description="Which hop the frame crossed.")
    backend: str | None = Field(description="The backend on backend hops.")
    connection_id: str = Field(description="The charger's WebSocket connection.")
    message_type: int | None = Field(description="2 CALL, 3 CALLRESULT, 4 CALLERROR.")
    message_id: str | None = Field(description="OCPP-J message id on this hop.")
    action: str | None = Field(description="OCPP action (CALL frames).")
    raw: str = Field(description="The exact frame text.")


class Leg(BaseModel):
    backend: str | None = Field(description="The backend of this leg.")
    answered: bool = Field(description="The backend's side got an answer.")
    forward_ms: float | None = Field(
        description="Gateway time forwarding the CALL: charger CALL in -> backend CALL out "
        "(or backend CALL in -> charger CALL out for backend commands)."
    )
    backend_ms: float | None = Field(
        description="Round trip on the backend's upstream: CALL out -> answer in (charger "
        "commands), or the backend-side answer after the CALL came in (backend commands)."
    )
    return_ms: float | None = Field(
        description="Gateway time returning the answer: backend answer in -> charger answer out "
        "(charger CALLs); charger answer in -> backend answer out (backend commands)."
    )


class ExchangeOut(BaseModel):
    origin: Literal["charger", "backend"] = Field(description="Who sent the CALL.")
    action: str = Field(description="OCPP action.")
    connection_id: str = Field(description="The charger's WebSocket connection.")
    started_at: datetime = Field(description="Capture time of the first CALL.")
    outcome: Literal["result", "error", "no_answer"] = Field(
        description="What the asking side finally got (the charger, or the backend for commands)."
    )
    total_ms: float | None = Field(
        description="Charger-side round trip: the charger's CALL to its answer (charger CALLs), "
        "the CALL to the charger to the charger's answer (backend commands)."
    )
    legs: list[Leg] = Field(description="One per backend that saw the exchange.")
    frames: list[TraceFrame] = Field(description="Every frame of the exchange, in capture order.")


def _frame(row: asyncpg.Record) -> TraceFrame:
    return TraceFrame(
        seq=row["stream_seq"],
        ts=ts_from_ns(row["ts_ns"]),
        ts_ns=row["ts_ns"],
        charger_id=row["charger_id"],
        direction=FrameDirection(row["direction"]),
        backend=row["backend"],
        connection_id=row["connection_id"],
        message_type=row["message_type"],
        message_id=row["message_id"],
        action=row["action"],
        raw=row["raw"],
    )


def _seen(row: asyncpg.Record) -> Seen:
    record = FrameRecord(
        charger_id=row["charger_id"],
        direction=FrameDirection(row["direction"]),
        ts_ns=row["ts_ns"],
        ocpp=row["ocpp"],
        raw=row["raw"],
        message_type=row["message_type"],
        message_id=row["message_id"],
        action=row["action"],
        backend=row["backend"],
        instance=row["instance"],
        connection_id=row["connection_id"],
        normalized=row["normalized"],
    )
    return seen(row["stream_seq"], record)


def _ms(a: Seen | None, b: Seen | None) -> float | None:
    if a is None or b is None:
        return None
    return (b.record.ts_ns - a.record.ts_ns) / 1e6


def exchange_out(ex: Exchange, rows: dict[int, asyncpg.Record]) -> ExchangeOut:
    legs = []
    for leg in ex.legs.values():
        if ex.origin is Origin.CHARGER:
            legs.append(
                Leg(
                    backend=leg.backend,
                    answered=leg.answer is not None,
                    forward_ms=_ms(ex.charger_call, leg.call),
                    backend_ms=_ms(leg.call, leg.answer),
                    return_ms=_ms(leg.answer, ex.charger_answer),
                )
            )
        else:
            legs.append(
                Leg(
                    backend=leg.backend,
                    answered=leg.answer is not None,
                    forward_ms=_ms(leg.call, ex.charger_call),
                    backend_ms=_ms(leg.call, leg.answer),
                    return_ms=_ms(ex.charger_answer, leg.answer),
                )
            )
    if ex.origin is Origin.CHARGER:
        final = ex.charger_answer
    else:
        answers = [leg.answer for leg in ex.legs.values() if leg.answer is not None]
        final = answers[0] if answers else ex.charger_answer
    outcome: Literal["result", "error", "no_answer"] = (
        "no_answer"
        if final is None
        else "result"
        if final.message_type == CALLRESULT
        else "error"
        if final.message_type == CALLERROR
        else "no_answer"
    )
    return ExchangeOut(
        origin="charger" if ex.origin is Origin.CHARGER else "backend",
        action=ex.action,
        connection_id=ex.connection_id,
        started_at=ts_from_ns(ex.started_ns),
        outcome=outcome,
        total_ms=_ms(ex.charger_call, ex.charger_answer),
        legs=legs,
        frames=[_frame(rows[f.seq]) for f in ex.frames()],
    )


async def _transaction_window(
    conn: asyncpg.Connection, transaction: str, charger_id: str | None
) -> tuple[str, set[int], int, int]:
    """(charger, frame seqs of its events, first ts_ns, last ts_ns) of a transaction, given the
    gateway transaction id or the charger's transaction id."""
    row = await conn.fetchrow(
        "SELECT gateway_transaction_id, charger_id FROM journal.sessions "
        "WHERE gateway_transaction_id = $1 OR (doc->>'charger_transaction_id' = $1 "
        "AND ($2::text IS NULL OR charger_id = $2)) ORDER BY first_seen DESC LIMIT 1",
        transaction,
        charger_id,
    )
    if row is None:
        raise HTTPException(status_code=404, detail=f"no transaction {transaction!r}")
    seqs = await conn.fetch(
        "SELECT frame_seq, ts FROM journal.events WHERE gateway_transaction_id = $1 "
        "AND frame_seq IS NOT NULL",
        row["gateway_transaction_id"],
    )
    if not seqs:
        raise HTTPException(status_code=404, detail=f"no frames for transaction {transaction!r}")
    ns = [clamp_ns(r["ts"]) for r in seqs]
    return row["charger_id"], {r["frame_seq"] for r in seqs}, min(ns), max(ns)


async def conversation(
    conn: asyncpg.Connection,
    charger_id: str,
    since_ns: int | None,
    until_ns: int | None,
    limit: int,
) -> tuple[list[Exchange], dict[int, asyncpg.Record]]:
    clauses: list[str] = ["charger_id = $1"]
    args: list[Any] = [charger_id]
    if since_ns is not None:
        args.append(since_ns)
        clauses.append(f"ts_ns >= ${len(args)}")
    if until_ns is not None:
        args.append(until_ns)
        clauses.append(f"ts_ns < ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"{FRAME_SQL} WHERE {' AND '.join(clauses)} ORDER BY ts_ns, stream_seq LIMIT ${len(args)}",
        *args,
    )
    correlator = Correlator()
    exchanges: dict[int, Exchange] = {}
    for row in rows:
        ex = correlator.feed(_seen(row)).exchange
        if ex is not None:
            exchanges.setdefault(id(ex), ex)
    # Parked backend legs that no charger CALL adopted are not exchanges of their own.
    exchanges = {
        k: ex
        for k, ex in exchanges.items()
        if ex.charger_call is not None or ex.origin is Origin.BACKEND
    }
    ordered = sorted(exchanges.values(), key=lambda e: e.started_ns)
    return ordered, {r["stream_seq"]: r for r in rows}


@router.get(
    "/chargers/{charger_id:path}/conversation",
    response_model=list[ExchangeOut],
    summary="A charger's conversation with every backend, exchange by exchange, with latencies",
)
async def get_conversation(
    pool: PoolDep,
    charger_id: str,
    since: Since = None,
    until: Until = None,
    action: Annotated[str | None, Query(description="Only exchanges of this action.")] = None,
    message_id: Annotated[
        str | None, Query(description="Only the exchange with this message id on any hop.")
    ] = None,
    transaction: Annotated[
        str | None,
        Query(description="Only the exchanges of this transaction (gateway or charger id)."),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many frames are read.")
    ] = 2000,
) -> list[ExchangeOut]:
    check_window(since, until)
    since_ns = clamp_ns(since) if since else None
    until_ns = clamp_ns(until) if until else None
    async with pool.acquire() as conn:
        wanted: set[int] | None = None
        if transaction is not None:
            _, wanted, first, last = await _transaction_window(conn, transaction, charger_id)
            since_ns = max(since_ns or first - SLACK_NS, first - SLACK_NS)
            until_ns = min(until_ns or last + SLACK_NS, last + SLACK_NS)
        exchanges, rows = await conversation(conn, charger_id, since_ns, until_ns, limit)
    out = []
    for ex in exchanges:
        frames = ex.frames()
        if action is not None and ex.action != action:
            continue
        if message_id is not None and all(f.message_id != message_id for f in frames):
            continue
        if wanted is not None and not any(f.seq in wanted for f in frames):
            continue
        out.append(exchange_out(ex, rows))
    return out


@router.get(
    "/traces",
    response_model=list[TraceFrame],
    summary="Search frames by charger, time range, action, message id or transaction",
)
async def search(
    pool: PoolDep,
    charger_id: ChargerFilter = None,
    since: Since = None,
    until: Until = None,
    action: Annotated[str | None, Query(description="Only CALLs of this action.")] = None,
    message_id: Annotated[
        str | None, Query(description="Only frames with this message id.")
    ] = None,
    transaction: Annotated[
        str | None,
        Query(
            description="Only the frames of this transaction's exchanges (gateway transaction id, "
            "or the charger's transaction id), answers and backend legs included."
        ),
    ] = None,
    direction: Annotated[FrameDirection | None, Query(description="Only this hop.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="At most this many frames.")
    ] = 1000,
) -> list[TraceFrame]:
    check_window(since, until)
    if transaction is not None:
        async with pool.acquire() as conn:
            cp, wanted, first, last = await _transaction_window(conn, transaction, charger_id)
            exchanges, rows = await conversation(
                conn, cp, first - SLACK_NS, last + SLACK_NS, MAX_LIMIT
            )
        frames = [
            _frame(rows[f.seq])
            for ex in exchanges
            if any(f.seq in wanted for f in ex.frames())
            for f in ex.frames()
        ]
        frames.sort(key=lambda f: (f.ts_ns, f.seq))
        return [f for f in frames if direction is None or f.direction == direction][:limit]
    if charger_id is None and message_id is None and since is None:
        raise HTTPException(
            status_code=422, detail="give at least one of charger_id, message_id, since"
        )
    clauses: list[str] = []
    args: list[Any] = []

    def add(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.format(f"${len(args)}"))

    if charger_id is not None:
        add("charger_id = {}", charger_id)
    if since is not None:
        add("ts >= {}", since)
    if until is not None:
        add("ts < {}", until)
    if action is not None:
        add("action = {}", action)
    if message_id is not None:
        add("message_id = {}", message_id)
    if direction is not None:
        add("direction = {}", direction.value)
    args.append(limit)
    where = " AND ".join(clauses) or "TRUE"
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"{FRAME_SQL} WHERE {where} ORDER BY ts_ns, stream_seq LIMIT ${len(args)}", *args
        )
    return [_frame(r) for r in rows]
