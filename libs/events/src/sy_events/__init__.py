"""sy_events: Switchyard's canonical events, one versioned schema for OCPP 1.6 and 2.0.1.

`models` holds the pydantic models (the contract on SY_EVENTS), `normalise` derives them from
captured frames without I/O, `subjects` says where each is published, `schemas` writes the JSON
Schema files and the AsyncAPI document.
"""

from sy_events.meter import MeterReading
from sy_events.models import (
    EVENT_ADAPTER,
    EVENT_MODELS,
    EVENT_TYPES,
    SCHEMA_VERSION,
    AuthorizationDecided,
    AuthorizationRequested,
    BackendCommandCompleted,
    BackendCommandIssued,
    BootReported,
    ChargerConnected,
    ChargerDisconnected,
    ConnectorStatusChanged,
    DiagnosticsStatus,
    Event,
    EventBase,
    FirmwareStatus,
    IdToken,
    RouteChanged,
    SecurityEvent,
    ShadowDivergence,
    TransactionAcknowledged,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
    parse_event,
    to_json,
)
from sy_events.normalise import Normaliser
from sy_events.subjects import subject_for
from sy_events.vocab import ConnectorStatus, OccupiedDetail
from sy_events.waves import WaveChargers, WaveGate, WaveRollback, WaveTransition

__all__ = [
    "EVENT_ADAPTER",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "AuthorizationDecided",
    "AuthorizationRequested",
    "BackendCommandCompleted",
    "BackendCommandIssued",
    "BootReported",
    "ChargerConnected",
    "ChargerDisconnected",
    "ConnectorStatus",
    "ConnectorStatusChanged",
    "DiagnosticsStatus",
    "Event",
    "EventBase",
    "FirmwareStatus",
    "IdToken",
    "MeterReading",
    "Normaliser",
    "OccupiedDetail",
    "RouteChanged",
    "SecurityEvent",
    "ShadowDivergence",
    "TransactionAcknowledged",
    "TransactionEnded",
    "TransactionStarted",
    "TransactionUpdated",
    "WaveChargers",
    "WaveGate",
    "WaveRollback",
    "WaveTransition",
    "parse_event",
    "subject_for",
    "to_json",
]
