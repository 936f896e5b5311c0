"""A lean CSMS for the bench: a raw WebSocket server that answers every charger CALL of the
bench's profile with a schema-valid CALLRESULT, without the `ocpp` library's per-message
machinery.

Why: on a 2-core machine the `ocpp` library CSMS costs about 1 ms of CPU per CALL (it validates
each request and response against its JSON schema and runs handlers through its router), which is
a quarter of the machine at 500 CALLs/s and sits on every path, the floor included. The bench
measures what the *gateway* adds, so its backend should cost as little as a production CSMS
cluster's front end appears to cost from the gateway's side. `--csms ocpp` runs the library one
instead (`csms.py`), for a run that wants a full OCPP implementation as the peer.

It speaks OCPP-J: the subprotocol is negotiated (`ocpp1.6`, `ocpp2.0.1`), a CALL gets a CALLRESULT
with the fields the action's response schema requires (OCPP 1.6 §4 and 2.0.1 Part 2 §1), an
action outside the bench's profile gets a CALLERROR `NotImplemented` (OCPP-J 1.6 §4.2.3, 2.0.1
Part 4 §4.3), answers from chargers are read and dropped, a frame that is not JSON gets a
CALLERROR without an id, as the specs ask.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

V16 = "ocpp1.6"
V201 = "ocpp2.0.1"
_transaction_ids = itertools.count(1)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _accepted_16() -> dict[str, Any]:
    return {"status": "Accepted"}


def result_16(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The CALLRESULT payload for an OCPP 1.6 request, or None when the action is not handled."""
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": _now(), "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": _now()}
    if action in ("StatusNotification", "MeterValues", "DataTransfer"):
        return {} if action != "DataTransfer" else _accepted_16()
    if action == "Authorize":
        return {"idTagInfo": _accepted_16()}
    if action == "StartTransaction":
        return {"transactionId": next(_transaction_ids), "idTagInfo": _accepted_16()}
    if action == "StopTransaction":
        return {"idTagInfo": _accepted_16()} if payload.get("idTag") else {}
    return None


def result_201(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The CALLRESULT payload for an OCPP 2.0.1 request, or None when the action is not handled."""
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": _now(), "interval": 300}
    if action == "Heartbeat":
        return {"currentTime": _now()}
    if action in ("StatusNotification", "MeterValues", "NotifyReport", "NotifyEvent"):
        return {}
    if action == "Authorize":
        return {"idTokenInfo": {"status": "Accepted"}}
    if action == "TransactionEvent":
        return {"idTokenInfo": {"status": "Accepted"}} if "idToken" in payload else {}
    return None


def answer(text: str | bytes, version: str) -> str | None:
    """The frame to send back for one received frame (None for answers: nothing to send)."""
    try:
        frame = json.loads(text)
    except ValueError:
        code = "FormationViolation" if version == V16 else "FormatViolation"
        return json.dumps([4, "-1", code, "frame is not JSON", {}])
    if not isinstance(frame, list) or len(frame) < 3 or frame[0] != 2:
        return None  # a CALLRESULT / CALLERROR to a CALL this CSMS never sends, or junk
    _, message_id, action, *rest = frame
    payload = rest[0] if rest and isinstance(rest[0], dict) else {}
    build = result_16 if version == V16 else result_201
    result = build(str(action), payload)
    if result is None:
        return json.dumps([4, message_id, "NotImplemented", f"{action} is not handled", {}])
    return json.dumps([3, message_id, result], separators=(",", ":"))


async def _session(ws: ServerConnection) -> None:
    version = ws.subprotocol or V16
    try:
        async for text in ws:
            reply = answer(text, version)
            if reply is not None:
                await ws.send(reply)
    except ConnectionClosed:
        pass


async def serve_lean(port: int, stop: asyncio.Event) -> None:
    async with serve(
        _session,
        "127.0.0.1",
        port,
        subprotocols=[V16, V201],  # type: ignore[list-item]
        max_queue=64,
        compression=None,
    ):
        print(f"lean CSMS listening on ws://127.0.0.1:{port}/", flush=True)
        await stop.wait()
