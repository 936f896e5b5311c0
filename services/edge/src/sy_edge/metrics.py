"""Prometheus metrics of the edge (served on /metrics). No label carries a charger id."""

from prometheus_client import Counter, Gauge, Histogram

CONNECTED = Gauge("sy_edge_connected_chargers", "Chargers connected to this edge replica")
CONNECTS = Counter("sy_edge_connections_total", "Charger WebSocket connections accepted", ["ocpp"])
REFUSED = Counter("sy_edge_handshakes_refused_total", "Charger handshakes refused", ["reason"])
ADMISSION_WAITING = Gauge(
    "sy_edge_admission_waiting", "Chargers told to come back at a reserved handshake slot"
)
AUTH_REFUSED = Counter(
    "sy_edge_auth_refused_total", "Handshakes refused for credentials (HTTP 401)", ["reason"]
)
FRAMES = Counter("sy_edge_frames_total", "OCPP frames crossing the edge", ["direction"])
CALL_ERRORS = Counter(
    "sy_edge_callerrors_sent_total", "CALLERRORs the edge itself answered", ["code"]
)
DROPPED = Counter("sy_edge_frames_dropped_total", "Frames logged and dropped", ["reason"])
LENIENT = Counter(
    "sy_edge_lenient_violations_total",
    "Schema violations forwarded because the charger's validation is lenient",
    ["kind"],
)
RATE_LIMITED = Counter("sy_edge_rate_limited_total", "Charger frames over the message-rate limit")
QUIRK_RULES = Counter(
    "sy_edge_quirk_rules_applied_total", "Quirk rules applied to frames", ["rule"]
)
TAKEOVERS = Counter(
    "sy_edge_takeovers_total", "Sockets closed because the charger connected to another replica"
)
CALL_SECONDS = Histogram(
    "sy_edge_charger_call_seconds",
    "Charger CALL to answer, through the bus and the backend",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CALLS_RESENT = Counter(
    "sy_edge_charger_calls_resent_total",
    "Charger CALLs sent again because the connectors replica owning the charger changed",
)
