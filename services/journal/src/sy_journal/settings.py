from pydantic import Field

from sy_platform import ServiceSettings


class JournalSettings(ServiceSettings):
    http_port: int = Field(8704, description="Port the REST API listens on.")
    consumer_name: str = Field(
        "journal",
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Durable JetStream consumer on SY_FRAMES. Replicas sharing a name share the "
        "work; a new name replays the whole stream (harmless: rows are keyed by stream sequence).",
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Frames fetched and stored per database transaction."
    )
    fetch_timeout_s: float = Field(
        1.0,
        gt=0,
        le=30,
        description="How long one fetch waits for frames; also bounds how long shutdown waits.",
    )
