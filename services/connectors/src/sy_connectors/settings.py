from pydantic import Field

from sy_platform import ServiceSettings


class ConnectorSettings(ServiceSettings):
    http_port: int = Field(8703, description="Port of the connectors' REST API and probes.")
    connect_timeout_s: float = Field(
        10.0, description="How long a charger CALL waits for its backend connection to open."
    )
    call_timeout_s: float = Field(
        25.0,
        description="How long a charger CALL waits for the backend's answer (keep it below the "
        "edge's SY_CALL_TIMEOUT_S so the charger gets the connector's clearer error).",
    )
    charger_call_timeout_s: float = Field(
        35.0, description="How long a backend CALL waits for the charger's answer via the edge."
    )
    reconnect_initial_s: float = Field(0.5, description="First delay before redialling a backend.")
    reconnect_max_s: float = Field(30.0, description="Longest delay between backend redials.")
    ping_interval_s: float | None = Field(
        30.0, description="WebSocket ping interval toward backends; null disables pings."
    )
    max_frame_bytes: int = Field(1_048_576, description="Largest message accepted from a backend.")
    offline_grace_s: float = Field(
        1.0,
        description="How long a charger CALL waits for a closed backend connection to open before "
        "the gateway stores it (transaction messages) or answers it locally.",
    )
    auth_cache_ttl_s: float = Field(
        86_400.0, description="How long a backend's authorization decision is reused offline."
    )
    offline_unknown_tag_status: str | None = Field(
        None,
        description="Offline answer for an id token the cache does not know: default Invalid "
        "(1.6) / Unknown (2.0.1); set Accepted to let every driver charge during an outage.",
    )
    shard_lease_s: float = Field(
        3.0,
        gt=0.2,
        description="How long a replica's lease on its charger shards lasts without renewal "
        "(renewed every third of it). A replica that dies loses its chargers to the others "
        "after about this long; replicas' clocks must agree to well within it.",
    )
    handover_timeout_s: float = Field(
        30.0,
        description="When handing chargers over to another replica (scale-out, shutdown), how "
        "long to let their CALLs in flight finish before closing their upstreams.",
    )
    edge_lost_after_s: float = Field(
        20.0,
        gt=0,
        description="An edge replica whose heartbeat (sy.edges.alive.<instance>) has not been "
        "heard for this long is gone with its chargers (a crash sends no 'disconnected'): their "
        "upstreams are closed, so the backends no longer see them online. Replicas never heard "
        "(an older edge version) are never declared gone. Keep it a few edge heartbeats "
        "(SY_HEARTBEAT_INTERVAL_S, 5 s) long.",
    )
    drain_reattach_s: float = Field(
        30.0,
        ge=0,
        description="When an edge shuts down and closes a charger's socket, how long its "
        "upstreams stay open for it to come back through another edge (the backends then see no "
        "outage); 0 closes them at once. A charger that reconnects after an edge crash keeps "
        "its upstreams too.",
    )
