"""Frames in, canonical events out: the sans-I/O normaliser.

`Normaliser.feed(seq, record)` takes each captured frame of the fleet in capture order (per
charger; chargers may interleave) and returns the events it implies. It holds per charger a
`Correlator` (which frames form one exchange) and what it knows about open transactions, so the
same frames always give the same events with the same ids (`f<seq>-<n>`): replays are harmless.

What comes from where:

* the charger's CALL (`from_charger`): boot, connector status, authorization requested,
  transaction started / updated / ended, firmware and diagnostics status, security events;
* the answer the charger received (`to_charger`): authorization decided, and a
  `transaction_acknowledged` with `backend: null` (1.6 assigns the transaction id there);
* each backend's answer on its own upstream (`from_backend`): `transaction_acknowledged` for that
  backend, with the backend's own transaction id;
* a backend's CALL (`from_backend`) and the charger's answer to it: backend command issued and
  completed.

Connected / disconnected, route changed and shadow divergence are not visible in frames; the
edge, routing and connectors publish them with these same models.
"""

from __future__ import annotations

import math
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sy_bus import FrameDirection, FrameRecord
from sy_events import meter
from sy_events.correlate import CALLERROR, CALLRESULT, Correlator, Exchange, Leg, Seen, Step
from sy_events.correlate import StepKind as K
from sy_events.correlate import seen as decode
from sy_events.models import (
    AuthorizationDecided,
    AuthorizationRequested,
    BackendCommandCompleted,
    BackendCommandIssued,
    BootReported,
    ConnectorStatusChanged,
    DiagnosticsStatus,
    EventBase,
    FirmwareStatus,
    IdToken,
    SecurityEvent,
    TransactionAcknowledged,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
)
from sy_events.vocab import authorization_status, connector_status, no_error, snake, stop_reason

# Gateway transaction ids are UUIDv5 in this namespace: stable across replays and replicas.
TRANSACTION_NAMESPACE = uuid.UUID("6f1c9a52-3b8e-4c1e-9a57-2f0e5d7a4b10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REMEMBERED = 256  # transactions remembered per charger

Fields = dict[str, Any]


def ts_of(ts_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_ns // 1000)


def gateway_transaction_id(charger_id: str, *parts: object) -> str:
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, "|".join([charger_id, *map(str, parts)])))


def _s(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _i(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _o(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: object) -> float | None:
    """1.6 meterStart / meterStop: integer Wh (some firmware sends a float or a string).
    'NaN' and 'Infinity' are not a register reading (and JSON cannot carry them)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _time(value: object) -> datetime | None:
    text = _s(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            return None
        # An offset that takes the instant past year 1 or 9999 is no time Python can hold in
        # UTC: the journal's timestamptz columns are written in UTC.
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return parsed


def _tx_id(value: object) -> str | None:
    """1.6 integer and 2.0.1 string transaction ids as one string type."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return _s(value)


def _id_token(payload: Fields) -> IdToken | None:
    tag = _s(payload.get("idTag"))
    if tag is not None:
        return IdToken(value=tag)
    token = _o(payload.get("idToken"))
    value = _s(token.get("idToken"))
    return IdToken(value=value, type=_s(token.get("type"))) if value else None


def _evse_16(connector_id: int | None) -> tuple[int | None, int | None]:
    """1.6 connector N is 2.0.1 EVSE N, connector 1; connector 0 is the whole charger."""
    if connector_id is None:
        return None, None
    return connector_id, (1 if connector_id > 0 else None)


def _latency_ms(call: Seen | None, answer: Seen | None) -> float | None:
    if call is None or answer is None:
        return None
    return (answer.record.ts_ns - call.record.ts_ns) / 1e6


class _Charger:
    def __init__(self, charger_id: str) -> None:
        self.charger_id = charger_id
        self.correlator = Correlator()
        # charger's transaction id -> gateway transaction id, newest last
        self.transactions: OrderedDict[str, str] = OrderedDict()
        self.started: OrderedDict[str, None] = OrderedDict()
        self.ended: OrderedDict[str, None] = OrderedDict()

    def learn(self, charger_tx: str, gtx: str) -> None:
        self.transactions[charger_tx] = gtx
        self.transactions.move_to_end(charger_tx)
        _trim(self.transactions)

    def first(self, seen: OrderedDict[str, None], gtx: str) -> bool:
        """True the first time `gtx` is put in `seen` (charger retries repeat messages)."""
        if gtx in seen:
            return False
        seen[gtx] = None
        _trim(seen)
        return True


def _trim(d: OrderedDict[str, Any]) -> None:
    while len(d) > _REMEMBERED:
        d.popitem(last=False)


class Normaliser:
    """Derives canonical events from the captured frames of any number of chargers."""

    def __init__(self) -> None:
        self._chargers: dict[str, _Charger] = {}

    def _charger(self, charger_id: str) -> _Charger:
        cp = self._chargers.get(charger_id)
        if cp is None:
            cp = self._chargers[charger_id] = _Charger(charger_id)
        return cp

    def unknown_transactions(self, records: list[FrameRecord]) -> set[tuple[str, str]]:
        """(charger, 1.6 transaction id) pairs these frames use that this normaliser has not
        seen start: after a restart, the caller looks them up and hands them to `learn`."""
        wanted = set()
        for record in records:
            if record.direction is not FrameDirection.FROM_CHARGER or record.action not in (
                "MeterValues",
                "StopTransaction",
            ):
                continue
            tx = _tx_id(decode(0, record).payload.get("transactionId"))
            cp = self._chargers.get(record.charger_id)
            if tx is not None and (cp is None or tx not in cp.transactions):
                wanted.add((record.charger_id, tx))
        return wanted

    def learn(self, charger_id: str, charger_tx: str, gateway_tx: str) -> None:
        self._charger(charger_id).learn(charger_tx, gateway_tx)

    def feed(self, seq: int, record: FrameRecord) -> list[EventBase]:
        cp = self._charger(record.charger_id)
        frame = decode(seq, record)
        step = cp.correlator.feed(frame)
        made = _derive(cp, step)
        if step.exchange is not None and step.kind is K.CHARGER_CALL:
            # Backend legs captured before the charger's CALL reached the stream.
            for leg in step.adopted:
                if leg.answer is not None and "gtx" in step.exchange.context:
                    late = Step(K.LEG_ANSWERED, leg.answer, step.exchange, leg)
                    made += _acknowledged(cp, late, step.exchange)
        if not made:
            return []
        base = {
            "charger_id": record.charger_id,
            "ts": ts_of(record.ts_ns),
            "ocpp": record.ocpp,
            "connection_id": record.connection_id or None,
            "frame_seq": seq,
        }
        return [
            model(event_id=f"f{seq}-{n}", **base, **fields)
            for n, (model, fields) in enumerate(made)
        ]


Made = list[tuple[type[EventBase], Fields]]


def _derive(cp: _Charger, step: Step) -> Made:
    ex = step.exchange
    if ex is None:
        return []
    handler = _HANDLERS.get((step.kind, ex.action))
    if handler is not None:
        return handler(cp, step, ex)
    if step.kind is K.BACKEND_CALL:
        return _command_issued(step)
    if step.kind is K.COMMAND_ANSWERED:
        return _command_completed(step, ex)
    if step.kind in (K.CHARGER_ANSWERED, K.LEG_ANSWERED) and "gtx" in ex.context:
        return _acknowledged(cp, step, ex)
    return []


# -- charger CALLs ---------------------------------------------------------------------------


def _boot(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    station = _o(p.get("chargingStation"))
    if station:  # 2.0.1
        modem = _o(station.get("modem"))
        fields: Fields = {
            "vendor": _s(station.get("vendorName")),
            "model": _s(station.get("model")),
            "firmware_version": _s(station.get("firmwareVersion")),
            "serial_number": _s(station.get("serialNumber")),
            "iccid": _s(modem.get("iccid")),
            "imsi": _s(modem.get("imsi")),
            "reason": snake(p["reason"]) if _s(p.get("reason")) else None,
        }
    else:
        fields = {
            "vendor": _s(p.get("chargePointVendor")),
            "model": _s(p.get("chargePointModel")),
            "firmware_version": _s(p.get("firmwareVersion")),
            "serial_number": _s(p.get("chargePointSerialNumber"))
            or _s(p.get("chargeBoxSerialNumber")),
            "iccid": _s(p.get("iccid")),
            "imsi": _s(p.get("imsi")),
        }
    return [(BootReported, fields)]


def _status(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    if "connectorStatus" in p:  # 2.0.1
        status, detail = connector_status(p.get("connectorStatus"))
        evse_id, connector_id = _i(p.get("evseId")), _i(p.get("connectorId"))
        error = None
    else:
        status, detail = connector_status(p.get("status"))
        evse_id, connector_id = _evse_16(_i(p.get("connectorId")))
        code = _s(p.get("errorCode"))
        error = None if no_error(code) else snake(code or "")
    if evse_id is None:
        return []
    if evse_id == 0:
        connector_id = None
    return [
        (
            ConnectorStatusChanged,
            {
                "evse_id": evse_id,
                "connector_id": connector_id,
                "status": status,
                "detail": detail,
                "error_code": error,
                "info": _s(p.get("info")),
                "vendor_error_code": _s(p.get("vendorErrorCode")),
                "reported_at": _time(p.get("timestamp")),
            },
        )
    ]


def _authorize(cp: _Charger, step: Step, ex: Exchange) -> Made:
    token = _id_token(step.frame.payload)
    if token is None:
        return []
    ex.context["id_token"] = token
    return [(AuthorizationRequested, {"id_token": token, "message_id": step.frame.message_id})]


def _authorize_answered(cp: _Charger, step: Step, ex: Exchange) -> Made:
    token = ex.context.get("id_token")
    if token is None:
        return []
    answer = step.frame
    if answer.message_type == CALLERROR:
        status, code = "error", answer.error_code
    else:
        info = _o(answer.payload.get("idTagInfo")) or _o(answer.payload.get("idTokenInfo"))
        status, code = authorization_status(info.get("status")), None
    return [
        (
            AuthorizationDecided,
            {
                "id_token": token,
                "status": status,
                "accepted": status == "accepted",
                "error_code": code,
                "backend": _answering_backend(ex),
            },
        )
    ]


def _start_16(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    evse_id, connector_id = _evse_16(_i(p.get("connectorId")))
    token = _id_token(p)
    started_at = _time(p.get("timestamp")) or ts_of(step.frame.record.ts_ns)
    # The charger retries an unanswered StartTransaction with the same content: same id.
    gtx = gateway_transaction_id(
        cp.charger_id, "1.6", evse_id, started_at.isoformat(), token.value if token else ""
    )
    ex.context.update(gtx=gtx, stage="started")
    if not cp.first(cp.started, gtx):
        return []
    meter_start = _number(p.get("meterStart"))
    return [
        (
            TransactionStarted,
            {
                "gateway_transaction_id": gtx,
                "evse_id": evse_id,
                "connector_id": connector_id,
                "id_token": token,
                "started_at": started_at,
                "meter_start_wh": meter_start,
                "reservation_id": _i(p.get("reservationId")),
            },
        )
    ]


def _charger_tx_16(cp: _Charger, tx: str | None) -> str | None:
    if tx is None:
        return None
    # Unknown when the journal started mid-session: still one stable id per transaction.
    return cp.transactions.get(tx) or gateway_transaction_id(cp.charger_id, "1.6-tx", tx)


def _meter_values(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    tx = _tx_id(p.get("transactionId"))
    gtx = _charger_tx_16(cp, tx)
    if gtx is None:
        return []  # 1.6 meter values outside a transaction; 2.0.1 MeterValues never have one
    ex.context.update(gtx=gtx, stage="updated")
    evse_id, connector_id = _evse_16(_i(p.get("connectorId")))
    return [
        (
            TransactionUpdated,
            {
                "gateway_transaction_id": gtx,
                "charger_transaction_id": tx,
                "evse_id": evse_id,
                "connector_id": connector_id,
                "readings": meter.readings(p.get("meterValue")),
            },
        )
    ]


def _stop_16(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    tx = _tx_id(p.get("transactionId"))
    gtx = _charger_tx_16(cp, tx)
    if gtx is None:
        return []
    ex.context.update(gtx=gtx, stage="ended")
    if not cp.first(cp.ended, gtx):
        return []
    meter_stop = _number(p.get("meterStop"))
    return [
        (
            TransactionEnded,
            {
                "gateway_transaction_id": gtx,
                "charger_transaction_id": tx,
                "id_token": _id_token(p),
                "stopped_at": _time(p.get("timestamp")) or ts_of(step.frame.record.ts_ns),
                "meter_stop_wh": meter_stop,
                "stop_reason": stop_reason(p.get("reason")),
                "readings": meter.readings(p.get("transactionData")),
            },
        )
    ]


def _transaction_event(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    info = _o(p.get("transactionInfo"))
    tx = _tx_id(info.get("transactionId"))
    if tx is None:
        return []
    gtx = cp.transactions.get(tx) or gateway_transaction_id(cp.charger_id, "2.0.1", tx)
    cp.learn(tx, gtx)
    evse = _o(p.get("evse"))
    readings = meter.readings(p.get("meterValue"))
    at = _time(p.get("timestamp")) or ts_of(step.frame.record.ts_ns)
    trigger = snake(p["triggerReason"]) if _s(p.get("triggerReason")) else None
    common: Fields = {
        "gateway_transaction_id": gtx,
        "charger_transaction_id": tx,
        "evse_id": _i(evse.get("id")),
        "connector_id": _i(evse.get("connectorId")),
        "readings": readings,
        "id_token": _id_token(p),
    }
    kind = p.get("eventType")
    if kind == "Started":
        ex.context.update(gtx=gtx, stage="started")
        if not cp.first(cp.started, gtx):
            return []
        begin = meter.energy_register_wh(readings, "Transaction.Begin")
        return [
            (
                TransactionStarted,
                {
                    **common,
                    "started_at": at,
                    "meter_start_wh": begin
                    if begin is not None
                    else meter.energy_register_wh(readings),
                    "trigger": trigger,
                    "reservation_id": _i(p.get("reservationId")),
                },
            )
        ]
    if kind == "Ended":
        ex.context.update(gtx=gtx, stage="ended")
        if not cp.first(cp.ended, gtx):
            return []
        end = meter.energy_register_wh(readings, "Transaction.End")
        return [
            (
                TransactionEnded,
                {
                    **common,
                    "stopped_at": at,
                    "meter_stop_wh": end if end is not None else meter.energy_register_wh(readings),
                    "stop_reason": stop_reason(info.get("stoppedReason")),
                },
            )
        ]
    ex.context.update(gtx=gtx, stage="updated")
    state = _s(info.get("chargingState"))
    return [
        (
            TransactionUpdated,
            {
                **common,
                "charging_state": snake(state) if state else None,
                "trigger": trigger,
                "seq_no": _i(p.get("seqNo")),
            },
        )
    ]


def _firmware(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    status = _s(p.get("status"))
    if status is None:
        return []
    return [(FirmwareStatus, {"status": snake(status), "request_id": _i(p.get("requestId"))})]


def _diagnostics(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    status = _s(p.get("status"))
    if status is None:
        return []
    return [(DiagnosticsStatus, {"status": snake(status), "request_id": _i(p.get("requestId"))})]


def _security(cp: _Charger, step: Step, ex: Exchange) -> Made:
    p = step.frame.payload
    kind = _s(p.get("type"))
    if kind is None:
        return []
    return [
        (
            SecurityEvent,
            {
                "kind": kind,
                "reported_at": _time(p.get("timestamp")),
                "tech_info": _s(p.get("techInfo")),
            },
        )
    ]


# -- answers ---------------------------------------------------------------------------------


def _answering_backend(ex: Exchange) -> str | None:
    """The backend whose answer the charger got: the first leg answered before it."""
    if ex.charger_answer is None:
        return None
    done = ex.charger_answer.record.ts_ns
    answered = [leg for leg in ex.legs.values() if leg.answer and leg.answer.record.ts_ns <= done]
    answered.sort(key=lambda leg: leg.answer.record.ts_ns if leg.answer else 0)
    return answered[0].backend if answered else None


def _acknowledged(cp: _Charger, step: Step, ex: Exchange) -> Made:
    answer = step.frame
    leg: Leg | None = step.leg
    gtx: str = ex.context["gtx"]
    accepted = answer.message_type == CALLRESULT
    p = answer.payload if accepted else {}
    info = _o(p.get("idTagInfo")) or _o(p.get("idTokenInfo"))
    call = leg.call if leg is not None else ex.charger_call
    call_payload = call.payload if call is not None else {}
    tx = _tx_id(p.get("transactionId")) or _tx_id(call_payload.get("transactionId"))
    tx = tx or _tx_id(_o(call_payload.get("transactionInfo")).get("transactionId"))
    if leg is None and tx is not None and ex.action == "StartTransaction" and accepted:
        cp.learn(tx, gtx)  # 1.6: the id the charger uses from now on
    return [
        (
            TransactionAcknowledged,
            {
                "gateway_transaction_id": gtx,
                "stage": ex.context["stage"],
                "backend": leg.backend if leg is not None else None,
                "accepted": accepted,
                "transaction_id": tx,
                "id_token_status": authorization_status(info["status"])
                if _s(info.get("status"))
                else None,
                "error_code": answer.error_code,
                "latency_ms": _latency_ms(call, answer),
            },
        )
    ]


def _command_issued(step: Step) -> Made:
    f = step.frame
    return [
        (
            BackendCommandIssued,
            {
                "backend": f.record.backend,
                "action": f.action or "",
                "message_id": f.message_id or "",
                "payload": f.payload,
            },
        )
    ]


def _command_completed(step: Step, ex: Exchange) -> Made:
    answer = step.frame
    origin = next(iter(ex.legs.values()), None)
    status = _s(answer.payload.get("status")) if answer.message_type == CALLRESULT else None
    accepted = answer.message_type == CALLRESULT and status in (None, "Accepted")
    return [
        (
            BackendCommandCompleted,
            {
                "backend": origin.backend if origin else None,
                "action": ex.action,
                "message_id": answer.message_id or "",
                "accepted": accepted,
                "status": snake(status) if status else None,
                "error_code": answer.error_code,
                "latency_ms": _latency_ms(ex.charger_call, answer),
            },
        )
    ]


Handler = Callable[[_Charger, Step, Exchange], Made]
_HANDLERS: dict[tuple[K, str], Handler] = {
    (K.CHARGER_CALL, "BootNotification"): _boot,
    (K.CHARGER_CALL, "StatusNotification"): _status,
    (K.CHARGER_CALL, "Authorize"): _authorize,
    (K.CHARGER_ANSWERED, "Authorize"): _authorize_answered,
    (K.CHARGER_CALL, "StartTransaction"): _start_16,
    (K.CHARGER_CALL, "MeterValues"): _meter_values,
    (K.CHARGER_CALL, "StopTransaction"): _stop_16,
    (K.CHARGER_CALL, "TransactionEvent"): _transaction_event,
    (K.CHARGER_CALL, "FirmwareStatusNotification"): _firmware,
    (K.CHARGER_CALL, "DiagnosticsStatusNotification"): _diagnostics,
    (K.CHARGER_CALL, "LogStatusNotification"): _diagnostics,
    (K.CHARGER_CALL, "SecurityEventNotification"): _security,
}
