"""Schema validation of payloads (2.0.1 Part 4 §4.1.7, §4.3; OCPP-J 1.6 §4.2.3)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sy_codec import (
    DEFAULT_REGISTRY,
    Call,
    CallResult,
    ErrorKind,
    FrameError,
    OcppVersion,
    SchemaRegistry,
    Send,
    error_code,
    known_actions,
    validate_call,
    validate_result,
)

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
NOW = "2024-05-01T12:00:00.000Z"


def call_error(call: Call | Send, version: OcppVersion, **kwargs: Any) -> FrameError:
    with pytest.raises(FrameError) as info:
        validate_call(call, version, **kwargs)
    return info.value


def result_error(payload: dict[str, Any], action: str, version: OcppVersion) -> FrameError:
    with pytest.raises(FrameError) as info:
        validate_result(CallResult("r1", payload), action, version)
    return info.value


VALID_CALLS = [
    (V16, "BootNotification", {"chargePointVendor": "VendorX", "chargePointModel": "Model"}),
    (V16, "Heartbeat", {}),
    (
        V16,
        "StartTransaction",
        {"connectorId": 1, "idTag": "TAG1", "meterStart": 0, "timestamp": NOW},
    ),
    (
        V16,
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 7,
            "meterValue": [
                {
                    "timestamp": NOW,
                    "sampledValue": [
                        {"value": "1234.5", "measurand": "Energy.Active.Import.Register"},
                        {"value": "21", "unit": "Celsius", "measurand": "Temperature"},
                    ],
                }
            ],
        },
    ),
    # OCPP-J 1.6 errata §2.5: StopTransaction "reason" is optional.
    (V16, "StopTransaction", {"transactionId": 7, "timestamp": NOW, "meterStop": 1500}),
    # multipleOf 0.1 with a binary float that is not exactly 21.4 (see schemas._exact_multiple_of).
    (
        V16,
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.4}],
                },
            },
        },
    ),
    (
        V201,
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "VendorX"}},
    ),
    (
        V201,
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": NOW,
            "triggerReason": "CablePluggedIn",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "tx-1", "chargingState": "EVConnected"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [{"timestamp": NOW, "sampledValue": [{"value": 12.5}]}],
            # 2.0.1 CustomDataType is open for vendor extensions.
            "customData": {"vendorId": "com.example", "anything": [1, 2]},
        },
    ),
    (V201, "Heartbeat", {}),
    (
        V21,
        "BootNotification",
        {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "VendorX"}},
    ),
]


@pytest.mark.parametrize(("version", "action", "payload"), VALID_CALLS)
def test_valid_calls_pass_and_are_not_mutated(
    version: OcppVersion, action: str, payload: dict[str, Any]
) -> None:
    before = copy.deepcopy(payload)
    validate_call(Call("1", action, payload), version)
    assert payload == before
    assert repr(payload) == repr(before)


BOOT_16 = {"chargePointVendor": "VendorX", "chargePointModel": "Model"}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"model": "Model", "vendorName": "VendorX"}}

# (version, action, payload, kind, text the description must contain)
INVALID_CALLS = [
    (V16, "BootNotification", {"chargePointModel": "Model"}, ErrorKind.OCCURRENCE_CONSTRAINT,
     "BootNotification: 'chargePointVendor' is a required property"),
    (V201, "BootNotification", {"reason": "PowerUp"}, ErrorKind.OCCURRENCE_CONSTRAINT,
     "'chargingStation' is a required property"),
    (V201, "BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "M"}},
     ErrorKind.OCCURRENCE_CONSTRAINT, "'vendorName' is a required property at $.chargingStation"),
    (V16, "BootNotification", {**BOOT_16, "chargePointModel": 5}, ErrorKind.TYPE_CONSTRAINT,
     "$.chargePointModel"),
    (V201, "BootNotification", {**BOOT_201, "chargingStation": "M"}, ErrorKind.TYPE_CONSTRAINT,
     "is not of type 'object' at $.chargingStation"),
    (V16, "StartTransaction",
     {"connectorId": "1", "idTag": "T", "meterStart": 0, "timestamp": NOW},
     ErrorKind.TYPE_CONSTRAINT, "$.connectorId"),
    (V16, "StatusNotification",
     {"connectorId": 1, "errorCode": "NoError", "status": "Plugged"},
     ErrorKind.PROPERTY_CONSTRAINT, "'Plugged' is not one of"),
    (V201, "BootNotification", {**BOOT_201, "reason": "Bored"}, ErrorKind.PROPERTY_CONSTRAINT,
     "at $.reason"),
    (V16, "BootNotification", {**BOOT_16, "chargePointVendor": "V" * 21},
     ErrorKind.PROPERTY_CONSTRAINT, "is too long (maxLength 20) at $.chargePointVendor"),
    (V201, "BootNotification",
     {**BOOT_201, "chargingStation": {"model": "M" * 21, "vendorName": "V"}},
     ErrorKind.PROPERTY_CONSTRAINT, "(maxLength 20) at $.chargingStation.model"),
    (V16, "BootNotification", {**BOOT_16, "colour": "red"}, ErrorKind.FORMAT,
     "('colour' was unexpected)"),
    (V201, "BootNotification",
     {**BOOT_201, "chargingStation": {"model": "M", "vendorName": "V", "colour": "red"}},
     ErrorKind.FORMAT, "('colour' was unexpected) at $.chargingStation"),
    (V16, "MeterValues", {"connectorId": 1, "meterValue": []}, ErrorKind.OCCURRENCE_CONSTRAINT,
     "at $.meterValue"),
    (V201, "NotifyEVChargingNeeds",
     {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "DC", "dcChargingParameters": {
         "evMaxCurrent": 100, "evMaxVoltage": 400, "stateOfCharge": 101}}},
     ErrorKind.PROPERTY_CONSTRAINT, "maximum of 100.0 at $.chargingNeeds.dcChargingParameters"),
    (V16, "SetChargingProfile",
     {"connectorId": 1, "csChargingProfiles": {
         "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
         "chargingProfileKind": "Absolute", "chargingSchedule": {
             "chargingRateUnit": "A",
             "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 21.45}]}}},
     ErrorKind.PROPERTY_CONSTRAINT,
     "21.45 is not a multiple of 0.1 at $.csChargingProfiles.chargingSchedule"),
]  # fmt: skip


@pytest.mark.parametrize(("version", "action", "payload", "kind", "text"), INVALID_CALLS)
def test_schema_violations_map_to_kinds(
    version: OcppVersion, action: str, payload: dict[str, Any], kind: ErrorKind, text: str
) -> None:
    before = copy.deepcopy(payload)
    error = call_error(Call("m1", action, payload), version)
    assert error.kind is kind
    assert text in error.description
    assert error.description.startswith(f"{action}: ")
    assert (error.message_id, error.answerable) == ("m1", True)
    assert payload == before


@pytest.mark.parametrize(
    ("version", "payload", "code"),
    [
        (V16, {"chargePointModel": "M"}, "OccurenceConstraintViolation"),
        (V16, {**BOOT_16, "chargePointModel": 5}, "TypeConstraintViolation"),
        (V16, {**BOOT_16, "chargePointModel": "M" * 21}, "PropertyConstraintViolation"),
        (V16, {**BOOT_16, "extra": 1}, "FormationViolation"),
        (V201, {"reason": "PowerUp"}, "OccurrenceConstraintViolation"),
        (V201, {**BOOT_201, "reason": 1}, "TypeConstraintViolation"),
        (V201, {**BOOT_201, "reason": "Bored"}, "PropertyConstraintViolation"),
        (V201, {**BOOT_201, "extra": 1}, "FormatViolation"),
        (V21, {**BOOT_201, "extra": 1}, "FormatViolation"),
    ],
)
def test_wire_codes_for_boot_notification(
    version: OcppVersion, payload: dict[str, Any], code: str
) -> None:
    error = call_error(Call("m1", "BootNotification", payload), version)
    assert error.to_call_error(version).error_code == code


@pytest.mark.parametrize(
    ("version", "action"),
    [
        (V16, "NoSuchAction"),
        (V201, "NoSuchAction"),
        (V16, "TransactionEvent"),  # 2.0.1 only
        (V201, "StartTransaction"),  # 1.6 only
        (V201, "bootnotification"),  # actions are case-sensitive (2.0.1 Part 4 §4.2.1)
        (V201, "BootNotificationRequest"),  # no "Request" suffix (2.0.1 Part 4 §4.1.6)
        (V16, "BootNotificationResponse"),
    ],
)
def test_unknown_action_is_not_implemented(version: OcppVersion, action: str) -> None:
    error = call_error(Call("m1", action, {}), version)
    assert error.kind is ErrorKind.NOT_IMPLEMENTED
    assert error.to_call_error(version).error_code == "NotImplemented"
    assert (error.message_id, error.answerable) == ("m1", True)


def test_null_payload_decoded_as_empty_fails_required_fields() -> None:
    error = call_error(Call("m1", "BootNotification", {}), V16)
    assert error_code(error.kind, V16) == "OccurenceConstraintViolation"


def test_shallowest_violation_is_reported() -> None:
    payload = {"chargingStation": {"model": 5, "vendorName": "V"}}  # no reason, bad model
    error = call_error(Call("m1", "BootNotification", payload), V201)
    assert error.kind is ErrorKind.OCCURRENCE_CONSTRAINT
    assert "'reason'" in error.description


def test_huge_values_are_shortened_in_the_description() -> None:
    payload = {**BOOT_16, "chargePointVendor": "V" * 10_000}
    error = call_error(Call("m1", "BootNotification", payload), V16)
    assert len(error.description) < 200
    assert error.description.endswith("is too long (maxLength 20) at $.chargePointVendor")


def test_send_is_validated_but_never_answered() -> None:
    ok = {"id": 1, "pending": 0, "basetime": NOW, "data": [{"t": 0.5, "v": "1"}]}
    validate_call(Send("s1", "NotifyPeriodicEventStream", ok), V21)
    error = call_error(Send("s1", "NotifyPeriodicEventStream", {"id": 1}), V21)
    assert error.kind is ErrorKind.OCCURRENCE_CONSTRAINT
    assert error.answerable is False


@pytest.mark.parametrize(
    ("version", "payload"),
    [
        (V16, {"status": "Accepted", "currentTime": NOW, "interval": 300}),
        (V201, {"status": "Accepted", "currentTime": NOW, "interval": 300}),
        (V21, {"status": "Pending", "currentTime": NOW, "interval": 0}),
    ],
)
def test_valid_boot_notification_result(version: OcppVersion, payload: dict[str, Any]) -> None:
    before = copy.deepcopy(payload)
    validate_result(CallResult("r1", payload), "BootNotification", version)
    assert payload == before


@pytest.mark.parametrize(
    ("version", "payload", "kind"),
    [
        (V16, {"status": "Accepted", "currentTime": NOW}, ErrorKind.OCCURRENCE_CONSTRAINT),
        # OCPP-J 1.6 errata §2.3: BootNotificationResponse interval is an integer.
        (
            V16,
            {"status": "Accepted", "currentTime": NOW, "interval": 1.5},
            ErrorKind.TYPE_CONSTRAINT,
        ),
        (
            V201,
            {"status": "Maybe", "currentTime": NOW, "interval": 300},
            ErrorKind.PROPERTY_CONSTRAINT,
        ),
        (
            V201,
            {"status": "Accepted", "currentTime": NOW, "interval": 300, "x": 1},
            ErrorKind.FORMAT,
        ),
    ],
)
def test_invalid_boot_notification_result(
    version: OcppVersion, payload: dict[str, Any], kind: ErrorKind
) -> None:
    error = result_error(payload, "BootNotification", version)
    assert error.kind is kind
    assert (error.message_id, error.answerable) == ("r1", False)
    assert error.description.startswith("BootNotification: ")


def test_result_for_unknown_action_is_not_answerable() -> None:
    error = result_error({}, "NoSuchAction", V201)
    assert error.kind is ErrorKind.NOT_IMPLEMENTED
    assert error.answerable is False


def test_send_actions_have_no_result_schema() -> None:
    assert result_error({}, "NotifyPeriodicEventStream", V21).kind is ErrorKind.NOT_IMPLEMENTED


def test_known_actions() -> None:
    v16, v201, v21 = known_actions(V16), known_actions(V201), known_actions(V21)
    assert {"BootNotification", "Heartbeat", "StartTransaction", "MeterValues"} <= v16
    assert {"BootNotification", "Heartbeat", "TransactionEvent", "SetVariables"} <= v201
    assert "TransactionEvent" not in v16
    assert "StartTransaction" not in v201
    assert "NotifyPeriodicEventStream" in v21
    assert "NotifyPeriodicEventStream" not in v201
    for actions in (v16, v201, v21):
        assert not any(a.endswith(("Request", "Response")) for a in actions)


def test_registry_is_lazy_and_compiles_once() -> None:
    registry = SchemaRegistry()
    assert registry.compiled_count() == 0
    first = registry.validator(V201, "Heartbeat", "request")
    second = registry.validator(V201, "Heartbeat", "request")
    assert first is not None
    assert first is second
    assert registry.compiled_count() == 1
    assert registry.validator(V201, "Heartbeat", "response") is not first
    assert registry.compiled_count() == 2


def test_registry_returns_none_for_missing_schema() -> None:
    registry = SchemaRegistry()
    assert registry.validator(V16, "NoSuchAction", "request") is None
    assert registry.compiled_count() == 0


def test_default_registry_caches_across_calls() -> None:
    validate_call(Call("1", "Heartbeat", {}), V16)
    before = DEFAULT_REGISTRY.compiled_count()
    validate_call(Call("2", "Heartbeat", {}), V16)
    assert DEFAULT_REGISTRY.compiled_count() == before


def start_transaction(timestamp: str) -> Call:
    return Call("1", "StartTransaction", {"connectorId": 1, "idTag": "T", "meterStart": 0,
                                          "timestamp": timestamp})  # fmt: skip


@pytest.mark.parametrize(
    "timestamp",
    ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456789+02:00", "2016-12-31t23:59:60z"],
)
def test_format_checking_accepts_rfc3339(timestamp: str) -> None:
    registry = SchemaRegistry(check_formats=True)
    validate_call(start_transaction(timestamp), V16, registry=registry)
    # The same registry does check formats, so the pass above is not vacuous.
    assert call_error(start_transaction("yesterday"), V16, registry=registry).kind is (
        ErrorKind.PROPERTY_CONSTRAINT
    )


@pytest.mark.parametrize(
    "timestamp",
    ["2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2024-13-01T12:00:00Z", "2023-02-29T00:00:00Z",
     "2024-05-01T12:00:00+24:00", "yesterday", ""],
)  # fmt: skip
def test_format_checking_rejects_bad_date_time(timestamp: str) -> None:
    registry = SchemaRegistry(check_formats=True)
    error = call_error(start_transaction(timestamp), V16, registry=registry)
    assert error.kind is ErrorKind.PROPERTY_CONSTRAINT
    assert "$.timestamp" in error.description
    # Off by default: field firmware often omits the offset.
    validate_call(start_transaction(timestamp), V16)
