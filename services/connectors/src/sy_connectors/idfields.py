"""Where backend-chosen ids sit in OCPP messages, and how they are rewritten (sans-I/O).

Field names follow the 1.6 specification (§6 messages, §5.1/5.5/5.11/5.13/5.16), the 1.6
security whitepaper (§5.9 GetLog, §5.13 LogStatusNotification, §5.19/§5.21 signed firmware) and
the 2.0.1 JSON schemas shipped with the `ocpp` package (the 2.0.1 Part 2 text is not in
shared/specs); the test cases (2.0.1 Part 6, "General tool rules") pin that firmware reports carry
the UpdateFirmware requestId and that a remotely started transaction reports remoteStartId.

* Backend -> charger: every id a backend creates (`ASSIGN`) or refers to (`REFER`) is replaced by
  the charger-facing id (`IdMap.assign` / `IdMap.resolve`).
* Charger -> backend, reports: a CALL answering one backend's request (NotifyReport for its
  GetBaseReport, ...) names that backend through its key id; it goes to that backend alone, with
  the backend's own id.
* Charger -> backend, references: optional ids in other CALLs (a transaction's reservationId or
  remoteStartId) are rewritten to each receiving backend's own id, and left out for a backend that
  did not create them (it would read another backend's number as one of its own).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sy_codec import Call, OcppVersion
from sy_connectors.idmap import IdKind, IdMap

V16, V201 = OcppVersion.V16, OcppVersion.V201
RESERVATION, PROFILE = IdKind.RESERVATION, IdKind.PROFILE
REMOTE_START, REQUEST = IdKind.REMOTE_START, IdKind.REQUEST
DISPLAY_MESSAGE = IdKind.DISPLAY_MESSAGE
EACH = "[]"  # a path step: every element of an array

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Field:
    path: Path
    kind: IdKind
    creates: bool = True  # False: refers to an id created earlier (cancel, clear, criteria)


# Backend CALLs: the ids they create or refer to.
TO_CHARGER: dict[tuple[OcppVersion, str], tuple[Field, ...]] = {
    (V16, "ReserveNow"): (Field(("reservationId",), RESERVATION),),
    (V16, "CancelReservation"): (Field(("reservationId",), RESERVATION, creates=False),),
    (V16, "SetChargingProfile"): (Field(("csChargingProfiles", "chargingProfileId"), PROFILE),),
    (V16, "RemoteStartTransaction"): (Field(("chargingProfile", "chargingProfileId"), PROFILE),),
    (V16, "ClearChargingProfile"): (Field(("id",), PROFILE, creates=False),),
    (V16, "GetLog"): (Field(("requestId",), REQUEST),),
    (V16, "SignedUpdateFirmware"): (Field(("requestId",), REQUEST),),
    (V201, "RequestStartTransaction"): (
        Field(("remoteStartId",), REMOTE_START),
        Field(("chargingProfile", "id"), PROFILE),
    ),
    (V201, "ReserveNow"): (Field(("id",), RESERVATION),),
    (V201, "CancelReservation"): (Field(("reservationId",), RESERVATION, creates=False),),
    (V201, "SetChargingProfile"): (Field(("chargingProfile", "id"), PROFILE),),
    (V201, "ClearChargingProfile"): (Field(("chargingProfileId",), PROFILE, creates=False),),
    (V201, "GetChargingProfiles"): (
        Field(("requestId",), REQUEST),
        Field(("chargingProfile", "chargingProfileId"), PROFILE, creates=False),  # an array
    ),
    # Display messages (2.0.1 O01-O04): the backend picks the message id.
    (V201, "SetDisplayMessage"): (Field(("message", "id"), DISPLAY_MESSAGE),),
    (V201, "ClearDisplayMessage"): (Field(("id",), DISPLAY_MESSAGE, creates=False),),
    (V201, "GetDisplayMessages"): (
        Field(("requestId",), REQUEST),
        Field(("id",), DISPLAY_MESSAGE, creates=False),  # an array
    ),
    **{
        (V201, action): (Field(("requestId",), REQUEST),)
        for action in (
            "GetBaseReport",
            "GetReport",
            "GetMonitoringReport",
            "GetLog",
            "UpdateFirmware",
            "PublishFirmware",
            "CustomerInformation",
        )
    },
}

# Charger CALLs that answer one backend's request: the id naming the request.
REPORTS: dict[tuple[OcppVersion, str], Field] = {
    (V16, "LogStatusNotification"): Field(("requestId",), REQUEST),
    (V16, "SignedFirmwareStatusNotification"): Field(("requestId",), REQUEST),
    (V201, "ReservationStatusUpdate"): Field(("reservationId",), RESERVATION),
    **{
        (V201, action): Field(("requestId",), REQUEST)
        for action in (
            "NotifyReport",  # GetBaseReport, GetReport
            "NotifyMonitoringReport",
            "LogStatusNotification",
            "FirmwareStatusNotification",  # UpdateFirmware
            "PublishFirmwareStatusNotification",
            "NotifyCustomerInformation",
            "NotifyDisplayMessages",
            "ReportChargingProfiles",  # GetChargingProfiles
        )
    },
}

# Further ids in charger CALLs. `drop`: left out for a backend that did not create the id (all
# such fields are optional); otherwise left as the charger sent it. (The profiles in
# ReportChargingProfiles and the messages in NotifyDisplayMessages: `OWN_ITEMS`.)
FROM_CHARGER: dict[tuple[OcppVersion, str], tuple[tuple[Field, bool], ...]] = {
    (V16, "StartTransaction"): ((Field(("reservationId",), RESERVATION), True),),
    (V201, "TransactionEvent"): (
        (Field(("reservationId",), RESERVATION), True),
        (Field(("transactionInfo", "remoteStartId"), REMOTE_START), True),
    ),
}

# Reports listing things several backends may have installed: the list and the kind of its
# items' `id`. The asker sees its own under its own ids, and not those of other backends.
OWN_ITEMS: dict[tuple[OcppVersion, str], tuple[str, IdKind]] = {
    (V201, "ReportChargingProfiles"): ("chargingProfile", PROFILE),
    (V201, "NotifyDisplayMessages"): ("messageInfo", DISPLAY_MESSAGE),
}

# Answers after which a reservation, profile or display message is gone from the charger
# (1.6 §5.1, §5.5; 2.0.1 ClearDisplayMessage).
ENDS: dict[str, IdKind] = {
    "CancelReservation": RESERVATION,
    "ClearChargingProfile": PROFILE,
    "ClearDisplayMessage": DISPLAY_MESSAGE,
}


# -- rewriting --------------------------------------------------------------------------------

_DROP = object()
Swap = Callable[[int], int | None]  # new value, or None to leave the field out


def rewrite(node: Any, path: Path, swap: Swap) -> Any:
    """`node` with the integer(s) at `path` swapped; the very same object when nothing changed,
    so an untouched frame is relayed byte for byte."""
    if not path:
        if isinstance(node, int) and not isinstance(node, bool):
            new = swap(node)
            return _DROP if new is None else (node if new == node else new)
        if isinstance(node, list):
            return rewrite(node, (EACH,), swap)
        return node
    head, rest = path[0], path[1:]
    if head == EACH:
        if not isinstance(node, list):
            return node
        out = [rewrite(item, rest, swap) for item in node]
        if all(a is b for a, b in zip(out, node, strict=True)):
            return node
        return [item for item in out if item is not _DROP]
    if not isinstance(node, dict) or head not in node:
        return node
    new = rewrite(node[head], rest, swap)
    if new is node[head]:
        return node
    copy = dict(node)
    if new is _DROP:
        del copy[head]
    else:
        copy[head] = new
    return copy


def read(node: Any, path: Path) -> int | None:
    for step in path:
        if not isinstance(node, dict):
            return None
        node = node.get(step)
    return node if isinstance(node, int) and not isinstance(node, bool) else None


def to_charger(
    call: Call, version: OcppVersion, backend: str, ids: IdMap
) -> tuple[dict[str, Any], bool]:
    """A backend CALL's payload with charger-facing ids, and whether the map changed."""
    payload = call.payload
    changed = False
    for field in TO_CHARGER.get((version, call.action), ()):

        def swap(backend_id: int, kind: IdKind = field.kind, creates: bool = field.creates) -> int:
            nonlocal changed
            if not creates:
                return ids.resolve(kind, backend, backend_id)
            cid, new = ids.assign(kind, backend, backend_id)
            changed = changed or new
            return cid

        payload = rewrite(payload, field.path, swap)
    return payload, changed


def asker(call: Call, version: OcppVersion, ids: IdMap) -> str | None:
    """The backend whose request this charger CALL reports on, when the gateway mapped it."""
    field = REPORTS.get((version, call.action))
    cid = read(call.payload, field.path) if field else None
    owner = ids.owner(field.kind, cid) if field and cid is not None else None
    return owner.backend if owner else None


def for_backend(
    call: Call, payload: dict[str, Any], version: OcppVersion, backend: str, ids: IdMap
) -> dict[str, Any]:
    """A charger CALL's payload as `backend` must see it: its own ids."""
    report = REPORTS.get((version, call.action))
    fields = [(report, False)] if report else []
    for field, drop in [*fields, *FROM_CHARGER.get((version, call.action), ())]:

        def swap(cid: int, kind: IdKind = field.kind, drop: bool = drop) -> int | None:
            owner = ids.owner(kind, cid)
            if owner is None:
                return cid
            if owner.backend == backend:
                return owner.id
            return None if drop else cid

        payload = rewrite(payload, field.path, swap)
    listed = OWN_ITEMS.get((version, call.action))
    if listed is not None:
        payload = _own_items(payload, *listed, backend, ids)
    return payload


def _own_items(
    payload: dict[str, Any], key: str, kind: IdKind, backend: str, ids: IdMap
) -> dict[str, Any]:
    """The asker's items (profiles, display messages) under its own ids. Those another backend
    installed through the gateway are left out: their numbers may be ones the asker uses for
    its own. When that would leave none (the schemas want one), the report goes as the charger
    sent it."""
    items = payload.get(key)
    if not isinstance(items, list):
        return payload
    kept = []
    for item in items:
        cid = read(item, ("id",))
        owner = ids.owner(kind, cid) if cid is not None else None
        if owner is None:
            kept.append(item)
        elif owner.backend == backend:
            kept.append(item if owner.id == cid else {**item, "id": owner.id})
    unchanged = len(kept) == len(items) and all(map(operator.is_, kept, items))
    if not kept or unchanged:
        return payload
    return {**payload, key: kept}


def ended(call: Call, result: dict[str, Any] | None, ids: IdMap) -> bool:
    """Forget a reservation, profile or display message the charger accepted to cancel or clear
    by id; whether the map changed. `call` is the CALL as the charger got it (charger-facing
    ids)."""
    kind = ENDS.get(call.action)
    if kind is None or result is None or result.get("status") != "Accepted":
        return False
    key = "reservationId" if kind is RESERVATION else None
    cid = call.payload.get(key) if key else _cleared_id(call.payload)
    return isinstance(cid, int) and ids.forget(kind, cid)


def _cleared_id(payload: dict[str, Any]) -> Any:
    # 1.6 ClearChargingProfile and 2.0.1 ClearDisplayMessage `id`, 2.0.1 `chargingProfileId`
    return payload.get("id", payload.get("chargingProfileId"))
