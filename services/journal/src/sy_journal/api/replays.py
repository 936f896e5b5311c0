"""Replay: re-deliver a time range of canonical events to a new durable consumer.

The journal creates a durable pull consumer on SY_EVENTS that starts at `since` (JetStream keeps
30 days); the new system binds to it by name and consumes at its own pace. JetStream has no end
time for a consumer: the consumer stops at nothing, so a subscriber that wants only [since,
until) stops at the first event whose `ts` is at or after `until` (the response repeats it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from sy_bus import streams
from sy_events import EVENT_TYPES
from sy_events.subjects import of_type
from sy_platform import RuntimeDep

router = APIRouter(prefix="/replays", tags=["replays"])

ConsumerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class ReplayRequest(BaseModel):
    consumer: ConsumerName = Field(
        description="Name of the durable consumer to create on SY_EVENTS (must not exist)."
    )
    since: AwareDatetime = Field(description="Deliver events stored at or after this instant.")
    until: AwareDatetime | None = Field(
        None, description="Where the subscriber should stop (JetStream itself does not)."
    )
    types: list[str] = Field(
        default_factory=list, description="Only these event types (default: every type)."
    )
    ack_wait_s: float = Field(60.0, gt=0, le=3600, description="Ack wait of the new consumer.")


class Replay(BaseModel):
    stream: str = Field(description="The stream to bind to: SY_EVENTS.")
    consumer: str = Field(description="The durable consumer created.")
    since: datetime = Field(description="First instant delivered.")
    until: datetime | None = Field(description="Where the subscriber should stop.")
    filter_subjects: list[str] = Field(description="Subjects the consumer delivers.")
    pending: int = Field(description="Events waiting for the consumer right now.")


@router.post(
    "",
    response_model=Replay,
    status_code=201,
    summary="Create a durable consumer on SY_EVENTS that re-delivers events from a time",
    responses={409: {"description": "a consumer with that name exists"}},
)
async def create_replay(rt: RuntimeDep, body: ReplayRequest) -> Replay:
    if body.until is not None and body.until <= body.since:
        raise HTTPException(status_code=422, detail="'since' must be before 'until'")
    unknown = sorted(set(body.types) - set(EVENT_TYPES))
    if unknown:
        raise HTTPException(status_code=422, detail=f"unknown event types: {unknown}")
    try:
        await rt.js.consumer_info(streams.EVENTS.name, body.consumer)
    except Exception:
        pass
    else:
        raise HTTPException(status_code=409, detail=f"consumer {body.consumer!r} exists")
    subjects = [of_type(t) for t in body.types] or list(streams.EVENTS.subjects)
    config = ConsumerConfig(
        name=body.consumer,
        durable_name=body.consumer,
        description=f"replay from {body.since.isoformat()}",
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=body.since,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=body.ack_wait_s,
        filter_subjects=subjects,
    )
    try:
        info = await rt.js.add_consumer(streams.EVENTS.name, config)
    except BadRequestError as exc:
        raise HTTPException(status_code=422, detail=f"JetStream refused: {exc}") from None
    return Replay(
        stream=streams.EVENTS.name,
        consumer=body.consumer,
        since=body.since,
        until=body.until,
        filter_subjects=subjects,
        pending=info.num_pending or 0,
    )
