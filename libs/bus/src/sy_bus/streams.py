"""JetStream streams and KV buckets, declared once. The NATS admin creates and updates them
(`python -m sy_bus.provision`); a service only checks at start that they exist (`verify`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

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
SHARDS = BucketSpec(
    "sy-shards", "Connector replicas alive and which one leases each charger shard, with expiry"
)
BUCKETS = (ROUTES, PRESENCE, STATE, API_TOKENS, TRANSACTIONS, SHARDS)

DEFAULT_ROUTE_KEY = "default"


def route_key(charger_id: str) -> str:
    return f"charger.{subjects.charger_token(charger_id)}"


# sy-state keys: a charger's last boot at `<token>` and its connector statuses at
# `status.<token>`. Boot keys are the bucket's only single-token keys, so a reader of boots alone
# watches `STATE_BOOT_KEYS` and is never woken by a status. (Until 2026-11 the statuses were kept
# in the boot's record; readers still take them from there when no status record exists.)
STATE_BOOT_KEYS = "*"


def state_boot_key(charger_id: str) -> str:
    return subjects.charger_token(charger_id)


def state_status_key(charger_id: str) -> str:
    return f"status.{subjects.charger_token(charger_id)}"


PROVISION_COMMAND = "python -m sy_bus.provision"


class NotProvisioned(RuntimeError):
    """Streams or buckets a service needs are missing: the admin has not provisioned the bus."""


def stream_config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        max_age=float(spec.max_age_s),
        storage=StorageType.FILE,
        description=spec.description,
        duplicate_window=120.0,
        retention=RetentionPolicy.WORK_QUEUE if spec.work_queue else RetentionPolicy.LIMITS,
    )


def bucket_config(spec: BucketSpec) -> KeyValueConfig:
    return KeyValueConfig(bucket=spec.name, description=spec.description, history=spec.history)


def bucket_stream(bucket: str) -> str:
    """The JetStream stream behind a KV bucket."""
    return f"KV_{bucket}"


# What provisioning keeps in line with the declarations (anything else an operator set stays).
_STREAM_FIELDS = ("subjects", "max_age", "storage", "description", "duplicate_window", "retention")


async def _provision_stream(js: JetStreamContext, spec: StreamSpec) -> str:
    wanted = stream_config(spec)
    try:
        current = (await js.stream_info(spec.name)).config
    except NotFoundError:
        try:
            await js.add_stream(wanted)
            return f"stream {spec.name}: created"
        except BadRequestError:  # created by someone else between our two calls
            current = (await js.stream_info(spec.name)).config
    changed = [f for f in _STREAM_FIELDS if getattr(current, f) != getattr(wanted, f)]
    if not changed:
        return f"stream {spec.name}: unchanged"
    updates: dict[str, Any] = {f: getattr(wanted, f) for f in changed}
    await js.update_stream(replace(current, **updates))
    return f"stream {spec.name}: updated ({', '.join(changed)})"


async def _provision_bucket(js: JetStreamContext, spec: BucketSpec) -> str:
    try:
        current = (await js.stream_info(bucket_stream(spec.name))).config
    except NotFoundError:
        await js.create_key_value(bucket_config(spec))
        return f"bucket {spec.name}: created"
    wanted: dict[str, Any] = {
        "description": spec.description,
        "max_msgs_per_subject": spec.history,
    }
    changed = [f for f, value in wanted.items() if getattr(current, f) != value]
    if not changed:
        return f"bucket {spec.name}: unchanged"
    await js.update_stream(replace(current, **{f: wanted[f] for f in changed}))
    return f"bucket {spec.name}: updated ({', '.join(changed)})"


async def provision(js: JetStreamContext) -> list[str]:
    """Create or update every stream and bucket (the admin's job, `python -m sy_bus.provision`);
    what was done, one line each. Safe to run again, and from several places at once."""
    done = [await _provision_stream(js, spec) for spec in STREAMS]
    done += [await _provision_bucket(js, spec) for spec in BUCKETS]
    return done


async def missing(js: JetStreamContext) -> list[str]:
    """The declared streams and buckets that do not exist, as `stream NAME` / `bucket NAME`."""
    absent = []
    for name, stream in [
        *((f"stream {s.name}", s.name) for s in STREAMS),
        *((f"bucket {b.name}", bucket_stream(b.name)) for b in BUCKETS),
    ]:
        try:
            await js.stream_info(stream)
        except NotFoundError:
            absent.append(name)
    return absent


async def verify(js: JetStreamContext) -> None:
    """What a service does at start: every stream and bucket must exist (a service's NATS user
    may not create them); otherwise NotProvisioned, in one sentence that says what to run."""
    absent = await missing(js)
    if absent:
        raise NotProvisioned(
            f"NATS has no {', '.join(absent)}: run `{PROVISION_COMMAND}` as the NATS admin user "
            "(the Helm chart's provisioning Job does) before starting the services"
        )


async def ensure_streams(js: JetStreamContext) -> None:
    """Admin only (a service user may not create streams): `provision`, for callers that need
    no report. Services call `verify`."""
    await provision(js)
    log.info("bus streams and buckets ready")
