"""The Switchyard bus contract."""

from sy_bus import streams, subjects
from sy_bus.connection import connect
from sy_bus.envelopes import (
    BackendAuth,
    BackendRef,
    ChargerState,
    EdgeAlive,
    EffectiveRoute,
    FrameRecord,
    Header,
    Presence,
)
from sy_bus.publisher import FramePublisher
from sy_bus.subjects import FrameDirection

__all__ = [
    "BackendAuth",
    "BackendRef",
    "ChargerState",
    "EdgeAlive",
    "EffectiveRoute",
    "FrameDirection",
    "FramePublisher",
    "FrameRecord",
    "Header",
    "Presence",
    "connect",
    "streams",
    "subjects",
]
