from pydantic import Field

from sy_platform import ServiceSettings


class EdgeSettings(ServiceSettings):
    http_port: int = Field(8701, description="Port of the edge's REST API and probes.")
    ocpp_host: str = Field("0.0.0.0", description="Address chargers connect to.")
    ocpp_port: int = Field(9000, description="Port chargers connect to (ws://HOST:PORT/...).")
    ocpp_path_prefix: str = Field(
        "/ocpp", description="URL path before the charger id: ws://HOST:PORT<prefix>/<chargerId>."
    )
    ocpp_versions: list[str] = Field(
        ["ocpp2.0.1", "ocpp1.6"],
        description="Subprotocols offered to chargers, in order of preference.",
    )
    call_timeout_s: float = Field(
        30.0, description="How long a charger CALL may wait for its backend's answer."
    )
    charger_call_timeout_s: float = Field(
        30.0, description="How long a backend CALL may wait for the charger's answer."
    )
    max_frame_bytes: int = Field(
        262_144, description="Largest WebSocket message accepted; larger ones close with 1009."
    )
    ping_interval_s: float | None = Field(
        30.0, description="WebSocket ping interval toward chargers; null disables pings."
    )
    ping_timeout_s: float | None = Field(
        None,
        description="Idle timeout: close a charger whose pong is this late (default: the ping "
        "interval).",
    )
    max_queued_calls: int = Field(
        100, description="Backend CALLs queued per charger before new ones are refused."
    )

    # -- security profiles (docs/security.md) ---------------------------------------------------
    allow_unauthenticated: bool = Field(
        False,
        description="Whether chargers with no credentials may connect when no charger policy "
        "says otherwise. Off by default; per charger / id pattern via /policies.",
    )
    tls_cert_file: str | None = Field(
        None, description="PEM server certificate (chain); set it to serve wss:// (profiles 2, 3)."
    )
    tls_key_file: str | None = Field(None, description="PEM private key of tls_cert_file.")
    tls_client_ca_file: str | None = Field(
        None,
        description="PEM CA bundle that signs charger certificates; set it to accept profile 3 "
        "(client certificates are then requested, not required, so profile 2 shares the port).",
    )
    trusted_proxies: list[str] = Field(
        [],
        description="CIDRs of ingress proxies that end TLS; only their identity headers count.",
    )
    proxy_cert_header: str | None = Field(
        None,
        description="Header a trusted proxy puts the verified client certificate in (URL-encoded "
        "PEM, e.g. nginx $ssl_client_escaped_cert, Envoy XFCC Cert=).",
    )
    proxy_identity_header: str | None = Field(
        None,
        description="Header a trusted proxy puts the verified certificate's subject CN in.",
    )
    proxy_proto_header: str = Field(
        "X-Forwarded-Proto",
        description="Header in which a trusted proxy says the charger used TLS (https / wss).",
    )
    access_cache_s: float = Field(
        60.0, description="How long a charger's credential and policy stay cached on a replica."
    )
    verified_cache_s: float = Field(
        600.0, description="How long a verified password is remembered (skips the KDF)."
    )

    # -- conformance ----------------------------------------------------------------------------
    validation: str = Field(
        "strict",
        pattern="^(strict|lenient)$",
        description="Schema violations: strict answers CALLERROR, lenient logs and forwards. "
        "Per charger / id pattern via /policies.",
    )
    rate_limit_per_s: float = Field(
        20.0, description="CALLs a charger may send per second, sustained (token bucket)."
    )
    rate_limit_burst: int = Field(60, description="CALLs a charger may send at once (bucket size).")

    # -- quirks -----------------------------------------------------------------------------------
    quirks_dirs: list[str] = Field(
        [], description="Directories with the operator's own quirk profiles (*.yaml)."
    )

    # -- storms and drain -------------------------------------------------------------------------
    handshake_rate_per_s: float = Field(
        300.0,
        gt=0,
        description="Charger handshakes admitted per second, sustained. A charger refused "
        "during a storm gets HTTP 503 with Retry-After = its reserved slot (edge README).",
    )
    handshake_burst: int = Field(600, ge=1, description="Handshakes admitted at once.")
    retry_after_jitter_s: int = Field(
        10,
        ge=0,
        description="Up to this many seconds added at random to Retry-After when a charger is "
        "refused without a reserved slot (the replica drains, credentials cannot be checked, "
        "or the slots are full for the next 120 s).",
    )
    heartbeat_interval_s: float = Field(
        5.0,
        gt=0,
        description="Seconds between this replica's heartbeats on sy.edges.alive.<instance>: "
        "the connectors close the upstreams of a replica's chargers when it falls silent "
        "(SY_EDGE_LOST_AFTER_S on the connectors) or restarts.",
    )
    drain_seconds: float = Field(
        20.0,
        description="On SIGTERM, charger sockets are closed (1001) spread over this many seconds.",
    )
