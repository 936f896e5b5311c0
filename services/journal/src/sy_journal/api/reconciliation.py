"""Reconciliation: which sessions the gateway saw, and which one backend acknowledged.

A backend acknowledged a session when it answered the start (1.6 StartTransaction, 2.0.1
TransactionEvent Started) with a CALLRESULT on its own upstream, giving (1.6) or accepting
(2.0.1) a transaction id, and, for an ended session, answered the stop with a CALLRESULT too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from sy_events.sessions import Session
from sy_journal.api.deps import ChargerFilter, PoolDep, Until, check_window

router = APIRouter(tags=["reconciliation"])

Problem = Literal[
    "not_sent",
    "start_not_acknowledged",
    "start_rejected",
    "no_transaction_id",
    "stop_not_acknowledged",
    "stop_rejected",
]


class Difference(BaseModel):
    gateway_transaction_id: str = Field(description="The session.")
    charger_id: str = Field(description="The charger.")
    started_at: datetime | None = Field(description="Start by the charger's clock.")
    stopped_at: datetime | None = Field(description="Stop by the charger's clock (null: active).")
    charger_transaction_id: str | None = Field(description="The charger's transaction id.")
    backend_transaction_id: str | None = Field(description="The backend's id, if it gave one.")
    energy_wh: float | None = Field(description="Energy of the session, Wh.")
    problems: list[Problem] = Field(
        description="not_sent: the backend never received the session's messages; "
        "start_not_acknowledged: no answer to the start; start_rejected: a CALLERROR; "
        "no_transaction_id: answered without a transaction id; stop_not_acknowledged / "
        "stop_rejected: the same for the stop of an ended session."
    )


class Reconciliation(BaseModel):
    backend: str = Field(description="The backend reconciled.")
    since: datetime = Field(description="Sessions first seen at or after this instant.")
    until: datetime | None = Field(description="... and before this one (null: now).")
    sessions_seen: int = Field(description="Sessions the gateway saw in the range.")
    sent_to_backend: int = Field(description="Of those, sessions the backend received.")
    acknowledged: int = Field(
        description="Sessions the backend fully acknowledged: start with a transaction id, and "
        "the stop if the session ended."
    )
    not_sent: int = Field(description="Sessions the backend never received.")
    differences: list[Difference] = Field(
        description="Every session the backend did not fully acknowledge (not_sent ones only "
        "with include_not_sent), oldest first, at most `limit`."
    )
    truncated: bool = Field(description="More differences exist than were listed.")


def problems_of(session: Session, backend: str) -> list[Problem]:
    if backend not in session.backends:
        return ["not_sent"]
    ack = session.acknowledgements.get(backend)
    out: list[Problem] = []
    if ack is None or ack.started is None:
        out.append("start_not_acknowledged")
    elif ack.started is False:
        out.append("start_rejected")
    elif not ack.transaction_id:
        out.append("no_transaction_id")
    if session.status == "ended":
        if ack is None or ack.ended is None:
            out.append("stop_not_acknowledged")
        elif ack.ended is False:
            out.append("stop_rejected")
    return out


@router.get(
    "/reconciliation",
    response_model=Reconciliation,
    summary="Sessions the gateway saw versus the sessions one backend acknowledged",
)
async def reconcile(
    pool: PoolDep,
    backend: Annotated[str, Query(min_length=1, description="The backend to reconcile.")],
    since: Annotated[
        AwareDatetime, Query(description="Sessions first seen at or after this instant.")
    ],
    until: Until = None,
    charger_id: ChargerFilter = None,
    include_not_sent: Annotated[
        bool, Query(description="Also list sessions the backend never received.")
    ] = False,
    limit: Annotated[
        int, Query(ge=1, le=100_000, description="At most this many differences listed.")
    ] = 10_000,
) -> Reconciliation:
    check_window(since, until)
    seen = sent = acknowledged = not_sent = 0
    differences: list[Difference] = []
    truncated = False
    query = (
        "SELECT doc FROM journal.sessions WHERE first_seen >= $1 "
        "AND ($2::timestamptz IS NULL OR first_seen < $2) "
        "AND ($3::text IS NULL OR charger_id = $3) "
        "ORDER BY first_seen, gateway_transaction_id"
    )
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        async for record in conn.cursor(query, since, until, charger_id, prefetch=2000):
            session = Session.model_validate_json(record["doc"])
            seen += 1
            problems = problems_of(session, backend)
            if problems == ["not_sent"]:
                not_sent += 1
                if not include_not_sent:
                    continue
            else:
                sent += 1
                if not problems:
                    acknowledged += 1
                    continue
            if len(differences) >= limit:
                truncated = True
                continue
            ack = session.acknowledgements.get(backend)
            differences.append(
                Difference(
                    gateway_transaction_id=session.gateway_transaction_id,
                    charger_id=session.charger_id,
                    started_at=session.started_at,
                    stopped_at=session.stopped_at,
                    charger_transaction_id=session.charger_transaction_id,
                    backend_transaction_id=ack.transaction_id if ack else None,
                    energy_wh=session.energy_wh,
                    problems=problems,
                )
            )
    return Reconciliation(
        backend=backend,
        since=since,
        until=until,
        sessions_seen=seen,
        sent_to_backend=sent,
        acknowledged=acknowledged,
        not_sent=not_sent,
        differences=differences,
        truncated=truncated,
    )
