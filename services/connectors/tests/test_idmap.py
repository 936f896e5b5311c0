"""Per-backend id mapping: the map itself and where ids sit in OCPP messages (sans-I/O)."""

import pytest

from sy_codec import Call, OcppVersion
from sy_connectors import idfields
from sy_connectors.idfields import asker, for_backend, to_charger
from sy_connectors.idmap import GATEWAY_IDS, MAX_PER_KIND, BackendId, IdKind, IdMap

V16, V201 = OcppVersion.V16, OcppVersion.V201
G = GATEWAY_IDS.start


def test_first_backend_keeps_its_id_and_a_colliding_one_gets_a_gateway_id() -> None:
    ids = IdMap()
    assert ids.assign(IdKind.PROFILE, "legacy", 1) == (1, True)
    assert ids.assign(IdKind.PROFILE, "new", 1) == (G, True)
    assert ids.assign(IdKind.PROFILE, "new", 1) == (G, False)  # reused, nothing to store
    assert ids.assign(IdKind.PROFILE, "legacy", 1) == (1, False)
    assert ids.assign(IdKind.PROFILE, "new", 2) == (2, True)
    # Kinds are separate number spaces on the charger.
    assert ids.assign(IdKind.RESERVATION, "new", 1) == (1, True)
    assert ids.owner(IdKind.PROFILE, G) == BackendId("new", 1)
    assert ids.owner(IdKind.PROFILE, 1) == BackendId("legacy", 1)


def test_a_backend_using_a_gateway_number_itself_does_not_take_it_over() -> None:
    ids = IdMap()
    ids.assign(IdKind.REQUEST, "legacy", 7)
    assert ids.assign(IdKind.REQUEST, "new", 7) == (G, True)
    assert ids.assign(IdKind.REQUEST, "shadow", G) == (G + 1, True)
    assert {ids.owner(IdKind.REQUEST, i) for i in (7, G, G + 1)} == {
        BackendId("legacy", 7),
        BackendId("new", 7),
        BackendId("shadow", G),
    }


def test_references_resolve_without_recording() -> None:
    ids = IdMap()
    ids.assign(IdKind.RESERVATION, "legacy", 3)
    ids.assign(IdKind.RESERVATION, "new", 3)
    assert ids.resolve(IdKind.RESERVATION, "new", 3) == G
    assert ids.resolve(IdKind.RESERVATION, "new", 9) == 9  # unknown but free: unchanged
    # "legacy" never made a reservation 99 through the gateway; "new" did not either, but
    # number 3 is legacy's: new's cancel of 3 must not reach legacy's reservation.
    nobody = ids.resolve(IdKind.RESERVATION, "other", 3)
    assert nobody not in (3, G) and ids.owner(IdKind.RESERVATION, nobody) is None


def test_the_map_is_bounded_per_kind_oldest_first() -> None:
    ids = IdMap()
    for i in range(MAX_PER_KIND + 2):
        ids.assign(IdKind.REQUEST, "legacy", i)
    assert ids.owner(IdKind.REQUEST, 0) is None and ids.owner(IdKind.REQUEST, 1) is None
    assert ids.owner(IdKind.REQUEST, 2) == BackendId("legacy", 2)
    assert len(ids.entries[IdKind.REQUEST]) == MAX_PER_KIND


def test_the_map_survives_serialisation() -> None:
    ids = IdMap()
    ids.assign(IdKind.PROFILE, "legacy", 1)
    ids.assign(IdKind.PROFILE, "new", 1)
    ids.assign(IdKind.REMOTE_START, "new", 5)
    again = IdMap.from_bytes(ids.to_bytes())
    assert again == ids
    assert again.assign(IdKind.PROFILE, "other", 1) == (G + 1, True)  # the counter went along


def test_gateway_ids_wrap_within_their_range() -> None:
    ids = IdMap(next_id=GATEWAY_IDS.stop - 1)
    ids.assign(IdKind.REQUEST, "a", 1)
    assert ids.assign(IdKind.REQUEST, "b", 1) == (GATEWAY_IDS.stop - 1, True)
    assert ids.assign(IdKind.REQUEST, "c", 1) == (GATEWAY_IDS.start, True)


# -- backend CALLs --------------------------------------------------------------------------


def _profile16(profile_id: int) -> dict[str, object]:
    return {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": []},
        },
    }


def test_1_6_charging_profile_ids_per_backend() -> None:
    ids = IdMap()
    first = Call("a", "SetChargingProfile", _profile16(1))
    second = Call("b", "SetChargingProfile", _profile16(1))
    payload, changed = to_charger(first, V16, "legacy", ids)
    assert payload is first.payload and changed  # unchanged, but recorded
    payload, changed = to_charger(second, V16, "new", ids)
    assert payload["csChargingProfiles"]["chargingProfileId"] == G and changed
    assert second.payload["csChargingProfiles"]["chargingProfileId"] == 1  # not mutated
    assert payload["csChargingProfiles"]["stackLevel"] == 0
    clear = Call("c", "ClearChargingProfile", {"id": 1})
    assert to_charger(clear, V16, "new", ids) == ({"id": G}, False)
    assert to_charger(clear, V16, "legacy", ids) == (clear.payload, False)
    # The charger accepted new's clear (charger-facing id G): G is forgotten, 1 is still legacy's.
    assert idfields.ended(Call("c", "ClearChargingProfile", {"id": G}), {"status": "Accepted"}, ids)
    assert ids.owner(IdKind.PROFILE, G) is None
    assert ids.owner(IdKind.PROFILE, 1) == BackendId("legacy", 1)
    assert not idfields.ended(
        Call("d", "ClearChargingProfile", {"id": 1}), {"status": "Unknown"}, ids
    )


def test_1_6_reservations_and_the_start_that_uses_one() -> None:
    ids = IdMap()
    reserve = {"connectorId": 1, "expiryDate": "2030-01-01T00:00:00Z", "idTag": "T"}
    to_charger(Call("a", "ReserveNow", {**reserve, "reservationId": 4}), V16, "legacy", ids)
    sent, _ = to_charger(Call("b", "ReserveNow", {**reserve, "reservationId": 4}), V16, "new", ids)
    assert sent["reservationId"] == G
    cancel = Call("c", "CancelReservation", {"reservationId": 4})
    assert to_charger(cancel, V16, "new", ids)[0] == {"reservationId": G}
    start = Call("d", "StartTransaction", {"connectorId": 1, "idTag": "T", "reservationId": G})
    assert asker(start, V16, ids) is None  # a transaction, not a report: it goes where it goes
    assert for_backend(start, start.payload, V16, "new", ids)["reservationId"] == 4
    # The primary did not make reservation G: it must not read it as one of its own.
    assert "reservationId" not in for_backend(start, start.payload, V16, "legacy", ids)
    plain = Call("e", "StartTransaction", {"connectorId": 1, "idTag": "T", "reservationId": 4})
    assert for_backend(plain, plain.payload, V16, "legacy", ids) is plain.payload
    assert "reservationId" not in for_backend(plain, plain.payload, V16, "new", ids)


def test_1_6_security_requests_and_their_reports() -> None:
    ids = IdMap()
    get_log = {"logType": "DiagnosticsLog", "log": {"remoteLocation": "ftp://x"}}
    to_charger(Call("a", "GetLog", {**get_log, "requestId": 1}), V16, "legacy", ids)
    sent, _ = to_charger(Call("b", "GetLog", {**get_log, "requestId": 1}), V16, "new", ids)
    assert sent["requestId"] == G
    report = Call("c", "LogStatusNotification", {"status": "Uploaded", "requestId": G})
    assert asker(report, V16, ids) == "new"
    assert for_backend(report, report.payload, V16, "new", ids) == {
        "status": "Uploaded",
        "requestId": 1,
    }
    idle = Call("d", "LogStatusNotification", {"status": "Idle"})  # no request: nobody's
    assert asker(idle, V16, ids) is None
    signed = Call("e", "SignedUpdateFirmware", {"requestId": 1, "firmware": {}})
    assert to_charger(signed, V16, "new", ids)[0]["requestId"] == G
    status = Call("f", "SignedFirmwareStatusNotification", {"status": "Installed", "requestId": G})
    assert asker(status, V16, ids) == "new"


@pytest.mark.parametrize(
    ("request_action", "report_action"),
    [
        ("GetBaseReport", "NotifyReport"),
        ("GetReport", "NotifyReport"),
        ("GetMonitoringReport", "NotifyMonitoringReport"),
        ("GetLog", "LogStatusNotification"),
        ("UpdateFirmware", "FirmwareStatusNotification"),
        ("PublishFirmware", "PublishFirmwareStatusNotification"),
        ("CustomerInformation", "NotifyCustomerInformation"),
        ("GetDisplayMessages", "NotifyDisplayMessages"),
        ("GetChargingProfiles", "ReportChargingProfiles"),
    ],
)
def test_2_0_1_request_ids_come_back_to_the_backend_that_asked(
    request_action: str, report_action: str
) -> None:
    ids = IdMap()
    to_charger(Call("a", request_action, {"requestId": 3}), V201, "legacy", ids)
    sent, changed = to_charger(Call("b", request_action, {"requestId": 3}), V201, "new", ids)
    assert sent == {"requestId": G} and changed
    for charger_id, backend in ((3, "legacy"), (G, "new")):
        report = Call("c", report_action, {"requestId": charger_id, "seqNo": 0})
        assert asker(report, V201, ids) == backend
        seen = for_backend(report, report.payload, V201, backend, ids)
        assert seen == {"requestId": 3, "seqNo": 0}
    unknown = Call("d", report_action, {"requestId": 77, "seqNo": 0})
    assert asker(unknown, V201, ids) is None  # asked before the gateway: the usual path


def test_2_0_1_remote_start_ids_in_transaction_events() -> None:
    ids = IdMap()
    start = {"idToken": {"idToken": "T", "type": "ISO14443"}, "remoteStartId": 1}
    to_charger(Call("a", "RequestStartTransaction", start), V201, "legacy", ids)
    profile = {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile"}
    sent, _ = to_charger(
        Call("b", "RequestStartTransaction", {**start, "chargingProfile": profile}),
        V201,
        "new",
        ids,
    )
    assert sent["remoteStartId"] == G and sent["chargingProfile"]["id"] == 1  # profile 1 is free
    event = Call(
        "c",
        "TransactionEvent",
        {"eventType": "Started", "transactionInfo": {"transactionId": "T1", "remoteStartId": G}},
    )
    assert asker(event, V201, ids) is None
    for_new = for_backend(event, event.payload, V201, "new", ids)
    assert for_new["transactionInfo"] == {"transactionId": "T1", "remoteStartId": 1}
    for_legacy = for_backend(event, event.payload, V201, "legacy", ids)
    assert for_legacy["transactionInfo"] == {"transactionId": "T1"}


def test_2_0_1_reservations_profiles_and_their_reports() -> None:
    ids = IdMap()
    reserve = {"expiryDateTime": "2030-01-01T00:00:00Z", "idToken": {"idToken": "T"}}
    to_charger(Call("a", "ReserveNow", {**reserve, "id": 8}), V201, "legacy", ids)
    assert to_charger(Call("b", "ReserveNow", {**reserve, "id": 8}), V201, "new", ids)[0]["id"] == G
    cancel = Call("c", "CancelReservation", {"reservationId": 8})
    assert to_charger(cancel, V201, "new", ids)[0] == {"reservationId": G}
    update = Call(
        "d", "ReservationStatusUpdate", {"reservationId": G, "reservationUpdateStatus": "Expired"}
    )
    assert asker(update, V201, ids) == "new"
    assert for_backend(update, update.payload, V201, "new", ids)["reservationId"] == 8
    event = Call(
        "e", "TransactionEvent", {"reservationId": G, "transactionInfo": {"transactionId": "X"}}
    )
    assert for_backend(event, event.payload, V201, "new", ids)["reservationId"] == 8
    assert "reservationId" not in for_backend(event, event.payload, V201, "legacy", ids)

    P = G + 1  # one gateway counter per charger, across kinds
    profile = {
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingSchedule": [],
    }
    to_charger(
        Call("f", "SetChargingProfile", {"evseId": 0, "chargingProfile": {**profile, "id": 1}}),
        V201,
        "legacy",
        ids,
    )
    sent, _ = to_charger(
        Call("g", "SetChargingProfile", {"evseId": 0, "chargingProfile": {**profile, "id": 1}}),
        V201,
        "new",
        ids,
    )
    assert sent["chargingProfile"]["id"] == P
    clear = Call("h", "ClearChargingProfile", {"chargingProfileId": 1})
    assert to_charger(clear, V201, "new", ids)[0] == {"chargingProfileId": P}
    criteria = Call(
        "i",
        "GetChargingProfiles",
        {"requestId": 4, "chargingProfile": {"chargingProfileId": [1, 2]}},
    )
    sent, _ = to_charger(criteria, V201, "new", ids)
    assert sent["chargingProfile"] == {"chargingProfileId": [P, 2]}
    # The report: new's profiles under new's ids, the charger's own (unmapped 50) as they are;
    # legacy's profile 1 is left out (new would take it for its own profile 1).
    report = Call(
        "j",
        "ReportChargingProfiles",
        {
            "requestId": sent["requestId"],
            "chargingLimitSource": "CSO",
            "evseId": 0,
            "chargingProfile": [{**profile, "id": i} for i in (1, P, 50)],
        },
    )
    assert asker(report, V201, ids) == "new"
    seen = for_backend(report, report.payload, V201, "new", ids)
    assert [p["id"] for p in seen["chargingProfile"]] == [1, 50]
    assert seen["chargingProfile"][0] == {**profile, "id": 1}
    assert [p["id"] for p in report.payload["chargingProfile"]] == [1, P, 50]  # not mutated
    only_legacy = Call(
        "k", "ReportChargingProfiles", {**report.payload, "chargingProfile": [{**profile, "id": 1}]}
    )
    assert for_backend(only_legacy, only_legacy.payload, V201, "new", ids) is only_legacy.payload


def test_2_0_1_display_messages_per_backend() -> None:
    """Two backends each setting their message 1 (2.0.1 O01): without the map the second
    would replace the first on the charger's screen."""
    ids = IdMap()
    message = {"priority": "NormalCycle", "message": {"format": "UTF8", "content": "Hi"}}

    def set_message(backend: str, mid: int) -> int:
        call = Call("s", "SetDisplayMessage", {"message": {**message, "id": mid}})
        sent, _ = to_charger(call, V201, backend, ids)
        charger_id: int = sent["message"]["id"]
        return charger_id

    assert set_message("legacy", 1) == 1 and set_message("new", 1) == G
    assert set_message("new", 2) == 2  # free on the charger: kept
    clear = Call("c", "ClearDisplayMessage", {"id": 1})
    assert to_charger(clear, V201, "new", ids)[0] == {"id": G}
    assert to_charger(clear, V201, "legacy", ids)[0] == {"id": 1}
    ask = Call("g", "GetDisplayMessages", {"requestId": 4, "id": [1, 2]})
    sent, _ = to_charger(ask, V201, "new", ids)
    assert sent == {"requestId": 4, "id": [G, 2]}

    # The charger's report to new's request: new's messages under new's ids; legacy's message
    # 1 left out (new would read it as its own message 1).
    listed = [{**message, "id": i} for i in (1, G, 2)]
    report = Call("n", "NotifyDisplayMessages", {"requestId": 4, "messageInfo": listed})
    assert asker(report, V201, ids) == "new"
    seen = for_backend(report, report.payload, V201, "new", ids)
    assert [m["id"] for m in seen["messageInfo"]] == [1, 2]
    assert [m["id"] for m in report.payload["messageInfo"]] == [1, G, 2]  # not mutated

    # Cleared with Accepted: the charger's id is free again.
    charger_clear = Call("c", "ClearDisplayMessage", {"id": G})
    assert idfields.ended(charger_clear, {"status": "Accepted"}, ids)
    assert ids.owner(IdKind.DISPLAY_MESSAGE, G) is None
    assert not idfields.ended(
        Call("c", "ClearDisplayMessage", {"id": 2}), {"status": "Unknown"}, ids
    )
