"""What every charger session on this replica shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.aio.client import Client
from nats.js.kv import KeyValue

from sy_bus import FramePublisher
from sy_edge.recorder import ConnectionRecorder
from sy_edge.settings import EdgeSettings

if TYPE_CHECKING:
    from sy_edge.session import ChargerSession


@dataclass
class EdgeContext:
    settings: EdgeSettings
    nc: Client
    frames: FramePublisher
    presence: KeyValue
    recorder: ConnectionRecorder
    sessions: dict[str, ChargerSession] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return self.settings.instance_id
