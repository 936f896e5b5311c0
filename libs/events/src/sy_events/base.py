"""What every canonical event carries: its version, a stable id, the charger and the time."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(
        SCHEMA_VERSION, description="Version of this event's schema; bumped on breaking changes."
    )
    event_id: str = Field(
        description="Unique and stable: the same event derived twice (a replay) has the same id. "
        "Events the journal derives from frames are 'f<frame stream sequence>-<n>'."
    )
    charger_id: str | None = Field(
        description="The charger's OCPP identity; null only for fleet-wide events "
        "(a change of the default route, a migration wave's transition)."
    )
    ts: AwareDatetime = Field(
        description="When the gateway saw it happen (capture time of the frame, UTC)."
    )
    ocpp: str | None = Field(None, description="OCPP version of the charger's connection.")
    connection_id: str | None = Field(
        None, description="The charger's WebSocket connection the event came from."
    )
    frame_seq: int | None = Field(
        None, description="SY_FRAMES stream sequence of the frame the event was derived from."
    )
