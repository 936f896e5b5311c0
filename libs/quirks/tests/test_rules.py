"""Each rule type on real-looking frames with the quirks operators report."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from sy_codec import Call, OcppVersion, decode, validate_call
from sy_quirks import BootInfo, FieldPath, ProfileError, QuirkBook, load_profile, repair
from sy_quirks.timestamps import repair_timestamp

BOOK = QuirkBook.load()


def _call(frame: str, version: str) -> Call:
    message = decode(frame, OcppVersion(version))
    assert isinstance(message, Call)
    return message


def _normalize(profile: str, frame: str, version: str) -> tuple[dict[str, Any], list[str]]:
    call = _call(frame, version)
    rules = BOOK.select(None, [profile]).normalize(
        call.payload, action=call.action, version=version
    )
    validate_call(call, OcppVersion(version))  # what is forwarded is valid
    return call.payload, rules


# A 1.6 MeterValues as sent by firmware that reports local time without an offset and kWh.
METER_16 = (
    '[2,"4711","MeterValues",{"connectorId":1,"transactionId":93,"meterValue":[{"timestamp":'
    '"2024-11-21 08:15:02","sampledValue":[{"value":"12.345","context":"Sample.Periodic",'
    '"measurand":"Energy.Active.Import.Register","unit":"kWh"},{"value":"7.4","measurand":'
    '"Power.Active.Import","unit":"kW"}]}]}]'
)


def test_naive_timestamp_becomes_utc() -> None:
    payload, rules = _normalize("naive-timestamps", METER_16, "ocpp1.6")
    assert payload["meterValue"][0]["timestamp"] == "2024-11-21T08:15:02Z"
    assert rules == ["naive-timestamps/v16"]


def test_timestamp_in_a_configured_zone_and_offsets_untouched() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert repair_timestamp("2024-07-01T12:00:00.5", berlin) == "2024-07-01T10:00:00.500Z"
    assert repair_timestamp("2024-07-01T12:00:00+02:00", berlin) is None
    assert repair_timestamp("2024-07-01T12:00:00Z", berlin) is None
    assert repair_timestamp("yesterday", berlin) is None
    assert repair_timestamp("2024-02-30T12:00:00", berlin) is None


def test_kwh_and_kw_become_wh_and_w_keeping_strings() -> None:
    payload, rules = _normalize("energy-kwh", METER_16, "ocpp1.6")
    sampled = payload["meterValue"][0]["sampledValue"]
    assert sampled[0] == {
        "value": "12345",
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "unit": "Wh",
    }
    assert sampled[1]["value"] == "7400" and sampled[1]["unit"] == "W"
    assert rules == ["energy-kwh/v16-kwh", "energy-kwh/v16-kw"]


def test_kwh_in_201_numbers() -> None:
    frame = (
        '[2,"m1","TransactionEvent",{"eventType":"Updated","timestamp":"2024-11-21T08:15:02Z",'
        '"triggerReason":"MeterValuePeriodic","seqNo":3,"transactionInfo":{"transactionId":"t1"},'
        '"meterValue":[{"timestamp":"2024-11-21T08:15:02Z","sampledValue":[{"value":1.5,'
        '"measurand":"Energy.Active.Import.Register","unitOfMeasure":{"unit":"kWh"}}]}]}]'
    )
    payload, rules = _normalize("energy-kwh", frame, "ocpp2.0.1")
    value = payload["meterValue"][0]["sampledValue"][0]
    assert value["value"] == 1500 and value["unitOfMeasure"] == {"unit": "Wh"}
    assert rules == ["energy-kwh/v201-kwh"]


def test_unlabelled_kwh_register_when_configured() -> None:
    frame = (
        '[2,"9","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-11-21T08:15:02Z",'
        '"sampledValue":[{"value":"12.5"},{"value":"230","measurand":"Voltage","unit":"V"}]}]}]'
    )
    payload, rules = _normalize("energy-kwh-labelled-wh", frame, "ocpp1.6")
    sampled = payload["meterValue"][0]["sampledValue"]
    assert sampled[0] == {"value": "12500", "unit": "Wh"}
    assert sampled[1]["value"] == "230"  # other measurands untouched
    assert rules == ["energy-kwh-labelled-wh/v16-unlabelled"]


@pytest.mark.parametrize(
    ("version", "frame", "field", "expected"),
    [
        (
            "ocpp1.6",
            '[2,"1","StatusNotification",{"connectorId":1,"errorCode":"NoErrors",'
            '"status":"Occupied"}]',
            "status",
            "Charging",
        ),
        (
            "ocpp1.6",
            '[2,"1","StatusNotification",{"connectorId":1,"errorCode":"noError",'
            '"status":"suspendedEV "}]',
            "status",
            "SuspendedEV",
        ),
        (
            "ocpp2.0.1",
            '[2,"1","StatusNotification",{"timestamp":"2024-11-21T08:15:02Z",'
            '"connectorStatus":"Charging","evseId":1,"connectorId":1}]',
            "connectorStatus",
            "Occupied",
        ),
    ],
)
def test_vendor_status_strings(version: str, frame: str, field: str, expected: str) -> None:
    payload, rules = _normalize("status-strings", frame, version)
    assert payload[field] == expected
    assert rules and all(r.startswith("status-strings/") for r in rules)
    if version == "ocpp1.6":
        assert payload["errorCode"] == "NoError"


def test_long_strings_truncated_to_schema_max_length() -> None:
    frame = (
        '[2,"b1","BootNotification",{"chargePointVendor":"ACME Charging Solutions GmbH & Co. KG",'
        '"chargePointModel":"AC22","chargePointSerialNumber":"SN-0123456789-0123456789-0123456789",'
        '"firmwareVersion":"1.2.3"}]'
    )
    payload, rules = _normalize("long-strings", frame, "ocpp1.6")
    assert payload["chargePointVendor"] == "ACME Charging Soluti"  # CiString20
    assert len(payload["chargePointSerialNumber"]) == 25  # CiString25
    assert rules == ["long-strings/truncate"]
    frame201 = (
        '[2,"b2","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"'
        + "M" * 30
        + '","vendorName":"V"}}]'
    )
    payload, rules = _normalize("long-strings", frame201, "ocpp2.0.1")
    assert payload["chargingStation"]["model"] == "M" * 20


def test_json_repair() -> None:
    broken = "[2,'17','Heartbeat',{},]"
    fixed, rules = BOOK.select(None, ["broken-json"]).repair_json(broken)
    assert orjson.loads(fixed) == [2, "17", "Heartbeat", {}]
    assert rules == ["broken-json/repair"]
    text, used = repair('[2,"1","DataTransfer",{"vendorId":"it\'s, ok]","data":NaN,}]')
    assert orjson.loads(text)[3] == {"vendorId": "it's, ok]", "data": None}
    assert used == ["non_finite_numbers", "trailing_commas"]
    text, used = repair("{'a': 'say \"hi\"', 'b': True, 'c': -Infinity}")
    assert orjson.loads(text) == {"a": 'say "hi"', "b": True, "c": None}
    assert repair('{"ok": 1}') == ('{"ok": 1}', [])


def test_field_renaming() -> None:
    frame = (
        '[2,"s1","StartTransaction",{"connectorID":1,"IdTag":"04A2","meterStart":0,'
        '"timestamp":"2024-11-21T08:15:02Z"}]'
    )
    payload, rules = _normalize("field-names", frame, "ocpp1.6")
    assert payload == {
        "connectorId": 1,
        "idTag": "04A2",
        "meterStart": 0,
        "timestamp": "2024-11-21T08:15:02Z",
    }
    assert rules == ["field-names/v16"]


def test_rules_only_for_their_actions_and_versions() -> None:
    quirks = BOOK.select(None, ["naive-timestamps"])
    payload = {"timestamp": "2024-11-21 08:15:02"}
    assert quirks.normalize(payload, action="Heartbeat", version="ocpp1.6") == []
    assert quirks.normalize(payload, action="StatusNotification", version="ocpp2.0.1") == [
        "naive-timestamps/v201"
    ]


def test_selection_by_boot_notification_and_include() -> None:
    site = load_profile(
        """
profile: acme-ac22
match: {vendor: "acme*", model: "re:AC(11|22)", firmware: "1.*"}
include: [naive-timestamps, energy-kwh]
rules:
  - {id: acme/status, type: enum, fields: [status], map: {Occupied: Charging}}
""",
        "site.yaml",
    )
    book = QuirkBook([*QuirkBook.load().profiles, site])
    acme = BootInfo.from_boot(
        {"chargePointVendor": "ACME", "chargePointModel": "AC22", "firmwareVersion": "1.4"},
        "ocpp1.6",
    )
    chosen = book.select(acme)
    assert chosen.profiles == ("acme-ac22", "naive-timestamps", "energy-kwh")
    newer = BootInfo("ACME", "AC22", "2.0")
    assert not book.select(newer)
    other = BootInfo.from_boot(
        {"reason": "PowerUp", "chargingStation": {"vendorName": "ACME", "model": "AC11"}},
        "ocpp2.0.1",
    )
    assert other == BootInfo("ACME", "AC11", None)
    assert not book.select(other)  # firmware pattern given, firmware unknown
    assert book.select(None, ["long-strings", "no-such"]).profiles == ("long-strings",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("profile: x\nrules: [{id: a, type: nope}]", "type must be one of"),
        ("profile: x\nrules: [{type: enum, fields: [a], map: {a: b}}]", "needs an id"),
        ("profile: x\nrules: [{id: a, type: timestamp, fields: [t], zone: Mars/Base}]", "zone"),
        ("profile: x\nrules: [{id: a, type: enum, fields: [a]}]", "needs a map"),
        ("profile: x\nmatch: {vendor: 're:('}", "bad regex"),
        ("profile: x\nrules: [{id: a, type: truncate, fields: [a]}]", "unknown options"),
        ("nothing: here", "'profile' name"),
    ],
)
def test_bad_profiles_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ProfileError, match=problem):
        load_profile(text, "bad.yaml")


def test_duplicate_rule_ids_refused() -> None:
    one = load_profile("profile: a\nrules: [{id: r, type: truncate}]", "a.yaml")
    two = load_profile("profile: b\nrules: [{id: r, type: truncate}]", "b.yaml")
    with pytest.raises(ProfileError, match="already used"):
        QuirkBook([one, two])


def test_field_paths() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}, {"c": 3}], "d": {"e": "x"}}
    assert [o[k] for o, k in FieldPath.parse("a[].b").locate(doc)] == [1, 2]
    assert [o[k] for o, k in FieldPath.parse("d.e").locate(doc)] == ["x"]
    assert list(FieldPath.parse("d.e.f").locate(doc)) == []
    assert len(list(FieldPath.parse("a[]").objects(doc))) == 3
    with pytest.raises(ValueError):
        FieldPath.parse("a..b")
