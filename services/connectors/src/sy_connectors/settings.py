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
