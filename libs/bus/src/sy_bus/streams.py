"""JetStream streams and KV buckets, declared once and created idempotently at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from sy_bus import subjects

log = logging.getLogger(__name__)

DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    max_age_s: int
    description: str
    work_queue: bool = False  # a message is removed once its consumer acknowledges it


@dataclass(frozen=True, slots=True)
class BucketSpec:
    name: str
    description: str
    history: int = 1


FRAMES = StreamSpec(
    "SY_FRAMES", (subjects.FRAMES_ALL,), 7 * DAY_S, "Every OCPP frame on every hop, raw"
)
EVENTS = StreamSpec(
    "SY_EVENTS", (subjects.EVENTS_ALL,), 30 * DAY_S, "Canonical, versioned domain events"
)
AUDIT = StreamSpec(
    "SY_AUDIT", (subjects.AUDIT_ALL,), 400 * DAY_S, "Who changed what, when and why, per service"
)
# Store-and-forward: bounded by storage (the stream's file store), never by a message count.
OUTBOX = StreamSpec(
    "SY_OUTBOX",
    (subjects.OUTBOX_ALL,),
    30 * DAY_S,
    "Charger CALLs stored for a backend that is down, per backend and charger, in order",
    work_queue=True,
)
STREAMS = (FRAMES, EVENTS, AUDIT, OUTBOX)

ROUTES = BucketSpec("sy-routes", "Effective route per charger, plus 'default'")
PRESENCE = BucketSpec("sy-presence", "Which edge replica holds which charger")
STATE = BucketSpec("sy-state", "Last boot and connector statuses per charger, for cutover replay")
API_TOKENS = BucketSpec("sy-api-tokens", "Admin API tokens (hashes only), by token id")
TRANSACTIONS = BucketSpec(
    "sy-transactions", "Open transactions per charger: owning backend and each backend's ids"
)
BUCKETS = (ROUTES, PRESENCE, STATE, API_TOKENS, TRANSACTIONS)

DEFAULT_ROUTE_KEY = "default"


def route_key(charger_id: str) -> str:
    return f"charger.{subjects.charger_token(charger_id)}"


async def ensure_streams(js: JetStreamContext) -> None:
    """Create or update every stream and bucket; safe to call from every replica at once."""
    for spec in STREAMS:
        config = StreamConfig(
            name=spec.name,
            subjects=list(spec.subjects),
            max_age=float(spec.max_age_s),
            storage=StorageType.FILE,
            description=spec.description,
            duplicate_window=120.0,
            retention=RetentionPolicy.WORK_QUEUE if spec.work_queue else RetentionPolicy.LIMITS,
        )
        try:
            await js.stream_info(spec.name)
            await js.update_stream(config)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except BadRequestError:  # another replica created it between our two calls
                await js.update_stream(config)
    for bucket in BUCKETS:
        try:
            await js.key_value(bucket.name)
        except (NotFoundError, BadRequestError):
            await js.create_key_value(
                KeyValueConfig(
                    bucket=bucket.name, description=bucket.description, history=bucket.history
                )
            )
    log.info("bus streams and buckets ready")
