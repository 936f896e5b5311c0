"""The journal's Prometheus metrics.

Module-level because prometheus_client's default registry is process-wide: building a second app in
the same process (tests, reloads) must not register the same names twice.
"""

from prometheus_client import Counter, Gauge

FRAMES_STORED = Counter(
    "sy_journal_frames_stored",
    "Frames written to journal.frames (redeliveries already stored are not counted).",
)
LAG = Gauge(
    "sy_journal_lag_messages",
    "Frames on SY_FRAMES not yet delivered to the journal's consumer (its num_pending).",
)
INGEST_ERRORS = Counter(
    "sy_journal_ingest_errors",
    "Ingest failures by kind: 'decode' (message terminated), 'database' (batch retried), "
    "'fetch' (JetStream pull failed, retried).",
    ["kind"],
)
for _kind in ("decode", "database", "fetch"):
    INGEST_ERRORS.labels(kind=_kind)
