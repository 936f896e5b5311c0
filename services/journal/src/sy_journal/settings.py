from pydantic import Field

from sy_platform import ServiceSettings


class JournalSettings(ServiceSettings):
    http_port: int = Field(8704, description="Port the REST API listens on.")
    consumer_name: str = Field(
        "journal",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable JetStream consumer on SY_FRAMES; '<name>-events' is the one on "
        "SY_EVENTS (events published by other services). Run one replica per name: canonical "
        "events are derived per charger in memory. A new name replays the whole stream "
        "(harmless: rows are keyed by stream sequence and event id).",
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Frames fetched and stored per database transaction."
    )
    batch_linger_s: float = Field(
        0.05,
        ge=0,
        le=5,
        description="How long a batch that is not full waits for more frames before it is "
        "stored. Each batch is one transaction with its commit, so at moderate load a short "
        "wait means far fewer, larger transactions (less CPU in the journal and Postgres) for "
        "that much more journal lag. 0: store whatever has arrived at once.",
    )
    fetch_timeout_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description="How long one fetch waits for frames; also bounds how long shutdown waits.",
    )
    partitions_ahead_days: int = Field(
        3, ge=0, le=60, description="Daily partitions created ahead of today (UTC)."
    )
    retention_frames_days: int = Field(
        90, ge=0, description="Days of raw frames kept (whole days dropped); 0 keeps forever."
    )
    retention_events_days: int = Field(
        400, ge=0, description="Days of canonical events kept; 0 keeps forever."
    )
    retention_status_days: int = Field(
        400, ge=0, description="Days of connector status history kept; 0 keeps forever."
    )
    retention_sessions_days: int = Field(
        0, ge=0, description="Days of sessions kept (by first seen); 0 keeps forever."
    )
    maintenance_every_s: float = Field(
        3600.0, gt=0, description="How often partitions are created ahead and old ones dropped."
    )
