"""The journal's Prometheus metrics.

Module-level because prometheus_client's default registry is process-wide: building a second app in
the same process (tests, reloads) must not register the same names twice.
"""

from prometheus_client import Counter, Gauge

FRAMES_STORED = Counter(
    "sy_journal_frames_stored",
    "Frames written to journal.frames (redeliveries already stored are not counted).",
)
EVENTS_STORED = Counter(
    "sy_journal_events_stored",
    "Canonical events written to journal.events (derived from frames, or consumed from SY_EVENTS).",
)
EVENTS_PUBLISHED = Counter(
    "sy_journal_events_published", "Derived events published to SY_EVENTS from the outbox."
)
LAG = Gauge(
    "sy_journal_lag_messages",
    "Frames on SY_FRAMES not yet delivered to the journal's consumer (its num_pending).",
)
ACK_PENDING = Gauge(
    "sy_journal_ack_pending_messages",
    "Frames delivered to the journal but not yet committed and acknowledged.",
)
OUTBOX = Gauge(
    "sy_journal_outbox_events", "Derived events stored but not yet published to SY_EVENTS."
)
INGEST_ERRORS = Counter(
    "sy_journal_ingest_errors",
    "Ingest failures by kind: 'decode' (message terminated), 'database' (batch retried), "
    "'data' (a message whose data Postgres rejects: a frame stored raw without its events, or "
    "a message terminated), 'fetch' (JetStream pull failed, retried), 'publish' (events left "
    "in the outbox, retried).",
    ["kind"],
)
PARTITIONS_DROPPED = Counter(
    "sy_journal_partitions_dropped", "Daily partitions dropped by retention.", ["table"]
)
for _kind in ("decode", "database", "data", "fetch", "publish"):
    INGEST_ERRORS.labels(kind=_kind)
