"""Shadow divergences of a backend for a set of chargers, read from SY_EVENTS.

The connectors publish one `shadow_divergence` event per differing answer; the migration service
reads them straight from the stream (an ordered consumer from the window's start), so a gate
needs no extra API. Reading stops at the end of the stream or after `MAX_EVENTS`, and says so.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

import orjson
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from sy_bus import streams
from sy_events.subjects import of_type
from sy_migration.gates import Divergences

log = logging.getLogger(__name__)
MAX_EVENTS = 200_000


async def count(
    js: JetStreamContext, backend: str, chargers: set[str], since: datetime, until: datetime
) -> Divergences:
    """Divergences in [since, until) where `backend` is the primary or the shadow."""
    by_charger: Counter[str] = Counter()
    by_action: Counter[str] = Counter()
    seen = 0
    sub = await js.subscribe(
        of_type("shadow_divergence"),
        stream=streams.EVENTS.name,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        config=ConsumerConfig(opt_start_time=since.astimezone(UTC)),
    )
    truncated = False
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except Exception:  # nothing more within the wait: the end of the stream
                break
            seen += 1
            try:
                event = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                continue
            at = datetime.fromisoformat(str(event.get("ts", "")).replace("Z", "+00:00"))
            if at >= until:
                break
            if event.get("charger_id") in chargers and backend in (
                event.get("primary"),
                event.get("shadow"),
            ):
                by_charger[event["charger_id"]] += 1
                by_action[str(event.get("action"))] += 1
            if msg.metadata.num_pending == 0:
                break
            if seen >= MAX_EVENTS:
                truncated = True
                break
    finally:
        await sub.unsubscribe()
    return Divergences(sum(by_charger.values()), dict(by_charger), dict(by_action), truncated)
