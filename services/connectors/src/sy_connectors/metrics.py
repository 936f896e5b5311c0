"""Prometheus metrics of the connectors (served on /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

SHARDS = Gauge("sy_connectors_shards", "Charger shards this replica serves (leases held)")
LINKS = Gauge("sy_connectors_links", "Chargers with an upstream link on this replica")
EDGE_LOST = Counter(
    "sy_connectors_chargers_lost_total",
    "Chargers forgotten because their edge replica crashed or restarted without saying so",
    ["why"],
)
UPSTREAMS_OPEN = Gauge("sy_connectors_upstreams_open", "Open upstream WebSockets to backends")
DIALS = Counter("sy_connectors_dials_total", "Upstream connection attempts", ["backend", "result"])
FRAMES = Counter("sy_connectors_frames_total", "Frames on upstreams", ["direction"])
BACKEND_SECONDS = Histogram(
    "sy_connectors_backend_call_seconds",
    "Charger CALL sent upstream to the backend's answer",
    ["backend"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
GATEWAY_ERRORS = Counter(
    "sy_connectors_gateway_errors_total", "CALLERRORs the gateway answered itself", ["reason"]
)
DROPPED = Counter("sy_connectors_frames_dropped_total", "Backend frames dropped", ["reason"])
SHADOW_DIVERGENCES = Counter(
    "sy_connectors_shadow_divergences_total",
    "Shadow answers that differ from the primary's",
    ["backend", "action"],
)
SHADOW_SKIPPED = Counter(
    "sy_connectors_shadow_copies_skipped_total", "Copies a shadow did not get", ["reason"]
)
COMMANDS = Counter(
    "sy_connectors_backend_commands_total",
    "Backend-initiated CALLs, by backend role and outcome",
    ["role", "outcome"],
)
OUTBOX_STORED = Counter(
    "sy_connectors_outbox_stored_total", "CALLs stored while their backend was down", ["backend"]
)
OUTBOX_DELIVERED = Counter(
    "sy_connectors_outbox_delivered_total", "Stored CALLs delivered once back", ["backend"]
)
LOCAL_ANSWERS = Counter(
    "sy_connectors_local_answers_total", "CALLs answered by the gateway while down", ["action"]
)
