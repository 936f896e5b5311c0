"""The canonical events: one schema for OCPP 1.6 and 2.0.1, published on SY_EVENTS.

Every event names its `type` (also the second token of its subject, `sy.events.<type>.<cp>`) and
its `schema_version`. A change that only adds optional fields keeps the version; anything else
bumps it, and consumers can tell the two apart without guessing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

# Re-exported: `sy_events.models` stays the one place every event model is found.
from sy_events.base import SCHEMA_VERSION as SCHEMA_VERSION
from sy_events.base import EventBase as EventBase
from sy_events.meter import MeterReading
from sy_events.vocab import ConnectorStatus, OccupiedDetail
from sy_events.waves import WaveTransition as WaveTransition


class ChargerConnected(EventBase):
    """A charger's WebSocket was accepted by an edge replica."""

    type: Literal["charger_connected"] = "charger_connected"
    instance: str = Field(description="The edge replica holding the connection.")
    security_profile: int | None = Field(None, description="OCPP security profile (1-3).")


class ChargerDisconnected(EventBase):
    """A charger's WebSocket closed."""

    type: Literal["charger_disconnected"] = "charger_disconnected"
    instance: str = Field(description="The edge replica that held the connection.")
    reason: str = Field(
        description="Why: 'charger_closed', 'ping_timeout', 'idle_timeout', 'takeover' (a newer "
        "socket of the same charger), 'drain' (replica shutting down), 'protocol_error', "
        "'edge_lost' (the replica crashed or restarted without saying so: published by the "
        "connectors, `ts` is the last moment the replica was known to hold it), ..."
    )
    close_code: int | None = Field(None, description="WebSocket close code, if any.")


class BootReported(EventBase):
    """The charger sent BootNotification."""

    type: Literal["boot_reported"] = "boot_reported"
    vendor: str | None = Field(description="1.6 chargePointVendor / 2.0.1 vendorName.")
    model: str | None = Field(description="1.6 chargePointModel / 2.0.1 model.")
    firmware_version: str | None = Field(description="Firmware version, if reported.")
    serial_number: str | None = Field(
        description="1.6 chargePointSerialNumber (else chargeBoxSerialNumber) / 2.0.1 serialNumber."
    )
    iccid: str | None = Field(None, description="Modem SIM ICCID, if reported.")
    imsi: str | None = Field(None, description="Modem IMSI, if reported.")
    reason: str | None = Field(
        None, description="2.0.1 boot reason in snake case ('power_up', 'watchdog', ...)."
    )


class ConnectorStatusChanged(EventBase):
    """The charger reported a connector's status (StatusNotification)."""

    type: Literal["connector_status_changed"] = "connector_status_changed"
    evse_id: int = Field(
        description="2.0.1 evseId; 1.6 connectorId (0 = the whole charger in both)."
    )
    connector_id: int | None = Field(
        description="2.0.1 connectorId; 1 for a 1.6 connector > 0; null for the whole charger."
    )
    status: ConnectorStatus = Field(description="One vocabulary for both versions.")
    detail: OccupiedDetail | None = Field(
        None, description="Why an occupied connector is occupied (1.6 only)."
    )
    error_code: str | None = Field(
        None, description="1.6 errorCode when not NoError, in snake case ('ground_failure')."
    )
    info: str | None = Field(None, description="1.6 info text.")
    vendor_error_code: str | None = Field(None, description="1.6 vendorErrorCode.")
    reported_at: AwareDatetime | None = Field(None, description="The charger's own timestamp.")


class IdToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(description="1.6 idTag / 2.0.1 idToken.idToken.")
    type: str | None = Field(
        None, description="2.0.1 idToken.type ('ISO14443', 'eMAID', ...); null for 1.6."
    )


class AuthorizationRequested(EventBase):
    """The charger asked whether an id token may charge (Authorize)."""

    type: Literal["authorization_requested"] = "authorization_requested"
    id_token: IdToken = Field(description="The token presented.")
    message_id: str | None = Field(None, description="OCPP-J message id of the request.")


class AuthorizationDecided(EventBase):
    """The answer the charger received to Authorize."""

    type: Literal["authorization_decided"] = "authorization_decided"
    id_token: IdToken = Field(description="The token presented.")
    status: str = Field(
        description="Snake case of 1.6 AuthorizationStatus / 2.0.1 AuthorizationStatusEnumType "
        "('accepted', 'blocked', 'invalid', 'concurrent_tx', ...), or 'error' when the charger "
        "got a CALLERROR."
    )
    accepted: bool = Field(description="True only for 'accepted'.")
    error_code: str | None = Field(None, description="The CALLERROR code, when status is error.")
    backend: str | None = Field(None, description="The backend that answered, when known.")


class TransactionRef(EventBase):
    gateway_transaction_id: str = Field(
        description="The gateway's id for the charging session: the same for every backend and "
        "stable across replays (a UUID derived from the charger and the session's start)."
    )
    charger_transaction_id: str | None = Field(
        None,
        description="The transaction id as the charger knows it: 1.6 integer as a string "
        "(assigned by the primary backend), 2.0.1 transactionId (assigned by the charger).",
    )
    evse_id: int | None = Field(None, description="EVSE (1.6: the connectorId).")
    connector_id: int | None = Field(None, description="Connector on the EVSE (1 for 1.6).")
    readings: list[MeterReading] = Field(
        default_factory=list, description="Meter readings sent with this message, normalised."
    )


class TransactionStarted(TransactionRef):
    """A charging session started (1.6 StartTransaction, 2.0.1 TransactionEvent Started)."""

    type: Literal["transaction_started"] = "transaction_started"
    id_token: IdToken | None = Field(None, description="Who started it, if known yet.")
    started_at: AwareDatetime = Field(description="Start time by the charger's clock.")
    meter_start_wh: float | None = Field(
        None, description="Energy register at start, Wh (1.6 meterStart; 2.0.1 Transaction.Begin)."
    )
    trigger: str | None = Field(None, description="2.0.1 triggerReason in snake case.")
    reservation_id: int | None = Field(None, description="Reservation used, if any.")


class TransactionUpdated(TransactionRef):
    """Meter values or state during a session (1.6 MeterValues with transactionId, 2.0.1
    TransactionEvent Updated)."""

    type: Literal["transaction_updated"] = "transaction_updated"
    id_token: IdToken | None = Field(None, description="Set when the token became known now.")
    charging_state: str | None = Field(
        None, description="2.0.1 chargingState in snake case ('charging', 'suspended_ev', ...)."
    )
    trigger: str | None = Field(None, description="2.0.1 triggerReason in snake case.")
    seq_no: int | None = Field(None, description="2.0.1 seqNo.")


class TransactionEnded(TransactionRef):
    """A charging session ended (1.6 StopTransaction, 2.0.1 TransactionEvent Ended)."""

    type: Literal["transaction_ended"] = "transaction_ended"
    id_token: IdToken | None = Field(None, description="Token used to stop, if any.")
    stopped_at: AwareDatetime = Field(description="Stop time by the charger's clock.")
    meter_stop_wh: float | None = Field(
        None, description="Energy register at stop, Wh (1.6 meterStop; 2.0.1 Transaction.End)."
    )
    stop_reason: str = Field(
        description="Snake case of 1.6 reason / 2.0.1 stoppedReason ('local' when absent; "
        "the resets of both versions are 'reset')."
    )


class TransactionAcknowledged(EventBase):
    """Who acknowledged a transaction message: the answer the charger received (`backend`
    null), or the answer of one backend on its own upstream. The basis of reconciliation."""

    type: Literal["transaction_acknowledged"] = "transaction_acknowledged"
    gateway_transaction_id: str = Field(description="The session this answer belongs to.")
    stage: Literal["started", "updated", "ended"] = Field(description="Which message was answered.")
    backend: str | None = Field(
        description="The backend that answered on its upstream; null for the answer the charger "
        "received."
    )
    accepted: bool = Field(description="A CALLRESULT (true) or a CALLERROR (false).")
    transaction_id: str | None = Field(
        None,
        description="The transaction id on that side: the backend's id on a backend answer, the "
        "charger's id on the charger's answer (1.6 assigns it in the StartTransaction answer).",
    )
    id_token_status: str | None = Field(
        None, description="idTagInfo / idTokenInfo status in snake case, if the answer had one."
    )
    error_code: str | None = Field(None, description="The CALLERROR code, when not accepted.")
    latency_ms: float | None = Field(
        None, description="From the CALL to this answer on the same hop pair, milliseconds."
    )


class FirmwareStatus(EventBase):
    """1.6 / 2.0.1 FirmwareStatusNotification."""

    type: Literal["firmware_status"] = "firmware_status"
    status: str = Field(description="Snake case of the reported status ('downloading', ...).")
    request_id: int | None = Field(None, description="2.0.1 requestId.")


class DiagnosticsStatus(EventBase):
    """1.6 DiagnosticsStatusNotification / 2.0.1 LogStatusNotification."""

    type: Literal["diagnostics_status"] = "diagnostics_status"
    status: str = Field(description="Snake case of the reported status ('uploaded', ...).")
    request_id: int | None = Field(None, description="2.0.1 requestId.")


class SecurityEvent(EventBase):
    """SecurityEventNotification (2.0.1, and the 1.6 security whitepaper)."""

    type: Literal["security_event"] = "security_event"
    kind: str = Field(description="The security event type as sent, e.g. 'FirmwareUpdated'.")
    reported_at: AwareDatetime | None = Field(None, description="The charger's timestamp.")
    tech_info: str | None = Field(None, description="Additional technical information.")


class BackendCommandIssued(EventBase):
    """A backend sent the charger a CALL (RemoteStart, Reset, ChangeConfiguration, ...)."""

    type: Literal["backend_command_issued"] = "backend_command_issued"
    backend: str | None = Field(description="The backend that sent it.")
    action: str = Field(description="OCPP action.")
    message_id: str = Field(description="OCPP-J message id on the backend's upstream.")
    payload: dict[str, Any] = Field(description="The CALL payload as sent by the backend.")


class BackendCommandCompleted(EventBase):
    """The charger answered a backend's CALL."""

    type: Literal["backend_command_completed"] = "backend_command_completed"
    backend: str | None = Field(description="The backend that sent the command, when known.")
    action: str = Field(description="OCPP action of the command.")
    message_id: str = Field(description="OCPP-J message id on the charger's side.")
    accepted: bool = Field(
        description="A CALLRESULT whose status (if any) is Accepted; false for a CALLERROR or a "
        "refusal."
    )
    status: str | None = Field(None, description="The answer's status in snake case, if any.")
    error_code: str | None = Field(None, description="The CALLERROR code, if any.")
    latency_ms: float | None = Field(
        None, description="From the CALL to the charger to its answer, milliseconds."
    )


class RouteChanged(EventBase):
    """The effective route of a charger (or the default route) changed. Published by routing."""

    type: Literal["route_changed"] = "route_changed"
    primary: str = Field(description="Name of the primary backend.")
    shadows: list[str] = Field(default_factory=list, description="Shadow backends.")
    version: int = Field(description="Routing-table version that made the change.")
    previous_primary: str | None = Field(None, description="The primary before the change.")
    author: str | None = Field(None, description="Who made the change.")
    reason: str | None = Field(None, description="Why, as the author wrote it.")


class DivergentField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="Dotted path of the field in the answer's payload, e.g. 'idTagInfo.status'; "
        "'$answer' when one side answered with a CALLERROR or not at all."
    )
    primary: Any = Field(description="The primary's value ('<missing>' when absent).")
    shadow: Any = Field(description="The shadow's value ('<missing>' when absent).")


class ShadowDivergence(EventBase):
    """A shadow backend answered differently from the primary. Published by connectors."""

    type: Literal["shadow_divergence"] = "shadow_divergence"
    action: str = Field(description="OCPP action of the CALL both answered.")
    message_id: str | None = Field(None, description="Message id of the charger's CALL.")
    primary: str = Field(description="The primary backend.")
    shadow: str = Field(description="The shadow backend.")
    primary_answer: str | None = Field(description="The primary's answer frame text.")
    shadow_answer: str | None = Field(description="The shadow's answer frame text (null: none).")
    difference: str = Field(description="What differs, in one line.")
    fields: list[DivergentField] = Field(
        default_factory=list, description="Every differing field, volatile ones excepted."
    )


Event = Annotated[
    ChargerConnected
    | ChargerDisconnected
    | BootReported
    | ConnectorStatusChanged
    | AuthorizationRequested
    | AuthorizationDecided
    | TransactionStarted
    | TransactionUpdated
    | TransactionEnded
    | TransactionAcknowledged
    | FirmwareStatus
    | DiagnosticsStatus
    | SecurityEvent
    | BackendCommandIssued
    | BackendCommandCompleted
    | RouteChanged
    | ShadowDivergence
    | WaveTransition,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_MODELS: tuple[type[EventBase], ...] = (
    ChargerConnected,
    ChargerDisconnected,
    BootReported,
    ConnectorStatusChanged,
    AuthorizationRequested,
    AuthorizationDecided,
    TransactionStarted,
    TransactionUpdated,
    TransactionEnded,
    TransactionAcknowledged,
    FirmwareStatus,
    DiagnosticsStatus,
    SecurityEvent,
    BackendCommandIssued,
    BackendCommandCompleted,
    RouteChanged,
    ShadowDivergence,
    WaveTransition,
)


def event_type(model: type[EventBase]) -> str:
    default = model.model_fields["type"].default
    assert isinstance(default, str)
    return default


EVENT_TYPES: tuple[str, ...] = tuple(event_type(m) for m in EVENT_MODELS)


def parse_event(data: bytes | str) -> Event:
    """Decode one SY_EVENTS message body."""
    return EVENT_ADAPTER.validate_json(data)


def to_json(event: EventBase) -> bytes:
    return event.model_dump_json(exclude_none=False).encode()
