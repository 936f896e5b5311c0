"""Transaction ownership and per-backend ids (sans-I/O)."""

from sy_codec import Call, OcppVersion
from sy_connectors.transactions import TransactionBook, is_end, is_start, transaction_key

V16, V201 = OcppVersion.V16, OcppVersion.V201


def test_1_6_transaction_is_owned_by_the_backend_that_answered_its_start() -> None:
    book = TransactionBook(V16)
    start = Call("1", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0})
    assert is_start(start, V16) and book.owner_of(start) is None
    tx = book.started(start, "legacy", {"transactionId": 17, "idTagInfo": {}}, [])
    assert tx is not None and tx.key == "17"
    meter = Call("2", "MeterValues", {"connectorId": 1, "transactionId": 17, "meterValue": []})
    owner = book.owner_of(meter)
    assert owner is not None and owner.owner == "legacy"
    assert book.owned_by("legacy") == [owner]
    stop = Call("3", "StopTransaction", {"transactionId": 17, "meterStop": 5, "timestamp": "t"})
    assert is_end(stop, V16)
    assert book.ended(stop) is owner
    assert book.owned_by("legacy") == []


def test_1_6_shadow_sees_its_own_transaction_id() -> None:
    book = TransactionBook(V16)
    start = Call("1", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0})
    tx = book.started(start, "legacy", {"transactionId": 17}, [])
    assert tx is not None
    meter = Call("2", "MeterValues", {"connectorId": 1, "transactionId": 17, "meterValue": []})
    assert book.payload_for(meter, tx, "new") is None  # no id from the shadow yet
    book.learn("17", "new", {"transactionId": 5001})
    assert book.payload_for(meter, tx, "new") == {**meter.payload, "transactionId": 5001}
    assert book.payload_for(meter, tx, "legacy") is meter.payload


def test_1_6_start_refused_without_a_transaction_id_records_nothing() -> None:
    book = TransactionBook(V16)
    start = Call("1", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0})
    assert book.started(start, "legacy", {"idTagInfo": {"status": "Invalid"}}, []) is None
    assert book.open == {}


def test_2_0_1_transaction_id_comes_from_the_charger() -> None:
    book = TransactionBook(V201)
    info = {"transactionId": "T-9"}
    started = Call("1", "TransactionEvent", {"eventType": "Started", "transactionInfo": info})
    updated = Call("2", "TransactionEvent", {"eventType": "Updated", "transactionInfo": info})
    ended = Call("3", "TransactionEvent", {"eventType": "Ended", "transactionInfo": info})
    assert transaction_key(updated, V201) == "T-9"
    tx = book.started(started, "legacy", {}, [])
    assert tx is not None and tx.key == "T-9"
    book.learn("T-9", "new", {})
    assert tx.backend_ids == {"legacy": "T-9", "new": "T-9"}
    assert book.payload_for(updated, tx, "new") is updated.payload  # same id everywhere
    assert is_end(ended, V201) and book.ended(ended) is tx


def test_other_calls_belong_to_no_transaction() -> None:
    book = TransactionBook(V16)
    assert book.owner_of(Call("1", "Heartbeat", {})) is None
    assert transaction_key(Call("1", "MeterValues", {"connectorId": 1}), V16) is None


def test_1_6_backend_commands_name_the_transaction_by_the_charger_s_id() -> None:
    book = TransactionBook(V16)
    start = Call("1", "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 0})
    book.started(start, "legacy", {"transactionId": 17}, ["new"])
    book.learn("17", "new", {"transactionId": 5001})
    stop = Call("2", "RemoteStopTransaction", {"transactionId": 5001})
    assert book.to_charger(stop, "new") == {"transactionId": 17}  # the shadow's id -> the charger's
    assert book.to_charger(stop, "legacy") is stop.payload  # not legacy's id: left alone
    own = Call("3", "RemoteStopTransaction", {"transactionId": 17})
    assert book.to_charger(own, "legacy") is own.payload
    profile = {"chargingProfileId": 1, "transactionId": 5001, "stackLevel": 0}
    tx_profile = Call("4", "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
    assert book.to_charger(tx_profile, "new")["csChargingProfiles"]["transactionId"] == 17
    assert TransactionBook(V201).to_charger(stop, "new") is stop.payload
