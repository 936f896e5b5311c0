"""Health metrics of a group of chargers over a time window, computed from the journal.

The migration service reads these for its wave gates. Definitions (also in the README):

* availability: share of the window each charger had at least one open WebSocket, from the
  charger_connected / charger_disconnected events (the state at the window's start is the last
  such event before it; a charger with none is counted as disconnected);
* reconnects per day: charger_connected events in the window that follow an earlier connection
  of the same charger, divided by the window's length in days;
* session start / stop success: share of transaction starts / stops whose answer to the charger
  was a CALLRESULT (transaction_acknowledged with backend null);
* authorization success: share of Authorize answers with status accepted;
* CALLERROR rate: CALLERRORs among all answers (CALLRESULT + CALLERROR) on the charger's side
  (frames to and from the charger);
* mean time between faults: charger-hours in the window divided by the number of fault onsets
  (a connector reporting faulted, or an error code other than NoError, after a report without
  one); null when there was no fault.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from fastapi import APIRouter, HTTPException
from pydantic import AwareDatetime, BaseModel, Field

from sy_journal.api.deps import PoolDep

router = APIRouter(tags=["health"])

MAX_CHARGERS = 100_000


class HealthRequest(BaseModel):
    charger_ids: list[str] | None = Field(
        None,
        max_length=MAX_CHARGERS,
        description="The charger group; null means every charger with traffic in the window.",
    )
    since: AwareDatetime = Field(description="Window start.")
    until: AwareDatetime | None = Field(None, description="Window end (default: now).")


class Rate(BaseModel):
    ok: int = Field(description="Successes.")
    total: int = Field(description="Attempts.")
    rate: float | None = Field(description="ok / total; null when there was no attempt.")


def rate(ok: int, total: int) -> Rate:
    return Rate(ok=ok, total=total, rate=ok / total if total else None)


class ChargerHealth(BaseModel):
    charger_id: str = Field(description="The charger.")
    availability: float = Field(description="Share of the window connected, 0..1.")
    reconnects: int = Field(description="Reconnections in the window.")
    reconnects_per_day: float = Field(description="Reconnections per day of the window.")
    faults: int = Field(description="Fault onsets in the window.")


class GroupHealth(BaseModel):
    since: datetime = Field(description="Window start.")
    until: datetime = Field(description="Window end.")
    chargers: int = Field(description="Chargers in the group.")
    availability: float | None = Field(description="Mean availability of the group's chargers.")
    reconnects_per_charger_per_day: float | None = Field(
        description="Reconnections per charger per day, averaged over the group."
    )
    session_start: Rate = Field(description="Transaction starts answered with a CALLRESULT.")
    session_stop: Rate = Field(description="Transaction stops answered with a CALLRESULT.")
    authorization: Rate = Field(description="Authorize answers with status accepted.")
    callerror: Rate = Field(
        description="CALLERROR answers (ok) among all answers (total) on the charger side; "
        "`rate` is the CALLERROR rate."
    )
    faults: int = Field(description="Fault onsets in the window, all chargers.")
    mean_time_between_faults_h: float | None = Field(
        description="Charger-hours in the window per fault onset; null without faults."
    )
    per_charger: list[ChargerHealth] = Field(description="Each charger, by id.")


def _filter(arg: int) -> str:
    return f"(${arg}::text[] IS NULL OR charger_id = ANY(${arg}::text[]))"


async def _connections(
    conn: asyncpg.Connection, ids: list[str] | None, since: datetime, until: datetime
) -> list[asyncpg.Record]:
    kinds = "type IN ('charger_connected', 'charger_disconnected')"
    return list(
        await conn.fetch(
            f"""
            (SELECT DISTINCT ON (charger_id) charger_id, ts, type, body->>'connection_id' AS conn
               FROM journal.events WHERE {kinds} AND ts < $2 AND {_filter(1)}
               ORDER BY charger_id, ts DESC)
            UNION ALL
            (SELECT charger_id, ts, type, body->>'connection_id' FROM journal.events
               WHERE {kinds} AND ts >= $2 AND ts < $3 AND {_filter(1)})
            ORDER BY charger_id, ts
            """,
            ids,
            since,
            until,
        )
    )


def _availability(
    rows: list[asyncpg.Record], since: datetime, until: datetime
) -> tuple[dict[str, float], dict[str, int]]:
    by_charger: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_charger[r["charger_id"]].append(r)
    window = (until - since).total_seconds()
    availability: dict[str, float] = {}
    reconnects: dict[str, int] = {}
    for charger, events in by_charger.items():
        open_conns: set[str] = set()
        connected_s = 0.0
        cursor = since
        count = 0
        ever = False
        for e in events:
            at = max(e["ts"], since)
            if open_conns:
                connected_s += (at - cursor).total_seconds()
            cursor = at
            if e["type"] == "charger_connected":
                if e["ts"] >= since and ever:
                    count += 1
                ever = True
                open_conns.add(e["conn"] or "")
            else:
                open_conns.discard(e["conn"] or "")
                ever = True
        if open_conns:
            connected_s += (until - cursor).total_seconds()
        availability[charger] = min(1.0, connected_s / window) if window > 0 else 0.0
        reconnects[charger] = count
    return availability, reconnects


async def _faults(
    conn: asyncpg.Connection, ids: list[str] | None, since: datetime, until: datetime
) -> dict[str, int]:
    rows = await conn.fetch(
        f"""
        SELECT charger_id, evse_id, connector_id, ts, status, error_code FROM (
          (SELECT DISTINCT ON (charger_id, evse_id, connector_id) * FROM journal.status_history
             WHERE ts < $2 AND {_filter(1)} ORDER BY charger_id, evse_id, connector_id, ts DESC)
          UNION ALL
          (SELECT * FROM journal.status_history WHERE ts >= $2 AND ts < $3 AND {_filter(1)})
        ) s ORDER BY charger_id, evse_id, connector_id, ts, event_id
        """,
        ids,
        since,
        until,
    )
    faults: dict[str, int] = defaultdict(int)
    previous: dict[tuple[str, int, int | None], bool] = {}
    for r in rows:
        key = (r["charger_id"], r["evse_id"], r["connector_id"])
        faulted = r["status"] == "faulted" or r["error_code"] is not None
        if faulted and not previous.get(key, False) and r["ts"] >= since:
            faults[r["charger_id"]] += 1
        previous[key] = faulted
    return faults


async def _event_rates(
    conn: asyncpg.Connection, ids: list[str] | None, since: datetime, until: datetime
) -> tuple[dict[str, Rate], set[str]]:
    rows = await conn.fetch(
        f"""
        SELECT charger_id, type, body->>'stage' AS stage, (body->>'accepted')::boolean AS ok,
               count(*) AS n
          FROM journal.events
         WHERE ts >= $2 AND ts < $3 AND {_filter(1)}
           AND (type = 'authorization_decided'
                OR (type = 'transaction_acknowledged' AND body->'backend' = 'null'::jsonb))
         GROUP BY 1, 2, 3, 4
        """,
        ids,
        since,
        until,
    )
    counts: dict[str, list[int]] = {k: [0, 0] for k in ("start", "stop", "auth")}
    chargers: set[str] = set()
    for r in rows:
        chargers.add(r["charger_id"])
        key = (
            "auth"
            if r["type"] == "authorization_decided"
            else {"started": "start", "ended": "stop"}.get(r["stage"])
        )
        if key is None:
            continue
        counts[key][1] += r["n"]
        if r["ok"]:
            counts[key][0] += r["n"]
    return {k: rate(ok, total) for k, (ok, total) in counts.items()}, chargers


async def _callerrors(
    conn: asyncpg.Connection, ids: list[str] | None, since: datetime, until: datetime
) -> tuple[Rate, set[str]]:
    rows = await conn.fetch(
        f"""
        SELECT charger_id, count(*) FILTER (WHERE message_type = 4) AS errors,
               count(*) AS answers
          FROM journal.frames
         WHERE ts >= $2 AND ts < $3 AND {_filter(1)}
           AND direction IN ('from_charger', 'to_charger') AND message_type IN (3, 4)
         GROUP BY charger_id
        """,
        ids,
        since,
        until,
    )
    errors = sum(r["errors"] for r in rows)
    answers = sum(r["answers"] for r in rows)
    return rate(errors, answers), {r["charger_id"] for r in rows}


@router.post(
    "/health",
    response_model=GroupHealth,
    summary="Availability, reconnects, session/authorization success, CALLERROR rate and MTBF "
    "of a charger group over a window",
)
async def group_health(pool: PoolDep, body: HealthRequest) -> GroupHealth:
    until = body.until or datetime.now(UTC)
    since = body.since
    if since >= until:
        raise HTTPException(status_code=422, detail="'since' must be before 'until'")
    ids = sorted(set(body.charger_ids)) if body.charger_ids is not None else None
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        availability, reconnects = _availability(
            await _connections(conn, ids, since, until), since, until
        )
        faults = await _faults(conn, ids, since, until)
        rates, with_events = await _event_rates(conn, ids, since, until)
        callerror, with_frames = await _callerrors(conn, ids, since, until)
    group = (
        ids
        if ids is not None
        else sorted(set(availability) | set(faults) | with_events | with_frames)
    )
    days = (until - since) / timedelta(days=1)
    per = [
        ChargerHealth(
            charger_id=c,
            availability=availability.get(c, 0.0),
            reconnects=reconnects.get(c, 0),
            reconnects_per_day=reconnects.get(c, 0) / days,
            faults=faults.get(c, 0),
        )
        for c in group
    ]
    total_faults = sum(p.faults for p in per)
    hours = (until - since) / timedelta(hours=1) * len(per)
    return GroupHealth(
        since=since,
        until=until,
        chargers=len(per),
        availability=sum(p.availability for p in per) / len(per) if per else None,
        reconnects_per_charger_per_day=sum(p.reconnects_per_day for p in per) / len(per)
        if per
        else None,
        session_start=rates["start"],
        session_stop=rates["stop"],
        authorization=rates["auth"],
        callerror=callerror,
        faults=total_faults,
        mean_time_between_faults_h=hours / total_faults if total_faults else None,
        per_charger=per,
    )
