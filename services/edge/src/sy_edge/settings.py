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
    max_frame_bytes: int = Field(262_144, description="Largest WebSocket message accepted.")
    ping_interval_s: float | None = Field(
        30.0, description="WebSocket ping interval toward chargers; null disables pings."
    )
    max_queued_calls: int = Field(
        100, description="Backend CALLs queued per charger before new ones are refused."
    )
