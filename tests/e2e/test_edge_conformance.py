"""The conformance table: for each malformed or non-conformant input, the exact answer the
charger gets (OCPP-J 1.6 §4, 2.0.1 Part 4 §4; codes per version as in libs/codec/README.md).
Then the per-charger rules the edge adds: message ids, the message-rate limit, frame size,
lenient validation. The connection stays usable after every bad frame (invariant 7)."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sy_devkit.pytest_plugin import RunningSuite

LONG_ID = "x" * 37
DROPPED = None  # no answer at all: logged and dropped
OK = "CALLRESULT"
BOOT16 = '{"chargePointVendor":"V","chargePointModel":"M"}'
STATUS16 = '{"connectorId":1,"errorCode":"NoError","status":"Available"}'
BOOT201 = '{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}'
STATUS201 = (
    '{"timestamp":"2024-11-21T08:15:02Z","connectorStatus":"Available","evseId":1,"connectorId":1}'
)

# (version, frame, expected message id, expected errorCode | OK | DROPPED)
TABLE = [
    # -- OCPP 1.6 (OCPP-J 1.6 §4.2.3 Table 7; FormationViolation / Occurence sic, errata §5) --
    ("ocpp1.6", "this is not json", "-1", "FormationViolation"),
    ("ocpp1.6", "[]", "-1", "FormationViolation"),
    ("ocpp1.6", '{"not":"an array"}', "-1", "FormationViolation"),
    ("ocpp1.6", '["2","c4","Heartbeat",{}]', "c4", "FormationViolation"),
    ("ocpp1.6", '[7,"c5","Heartbeat",{}]', "c5", "NotSupported"),
    ("ocpp1.6", '[6,"c6","NotifyPeriodicEventStream",{}]', "c6", "NotSupported"),
    ("ocpp1.6", '[2,123,"Heartbeat",{}]', "-1", "FormationViolation"),
    ("ocpp1.6", f'[2,"{LONG_ID}","Heartbeat",{{}}]', "-1", "FormationViolation"),
    ("ocpp1.6", '[2,"c9","Heartbeat"]', "c9", "ProtocolError"),
    ("ocpp1.6", '[2,"c10",5,{}]', "c10", "ProtocolError"),
    ("ocpp1.6", '[2,"c11","Heartbeat",[]]', "c11", "FormationViolation"),
    ("ocpp1.6", '[2,"c12","NoSuchAction",{}]', "c12", "NotImplemented"),
    (
        "ocpp1.6",
        '[2,"c13","BootNotification",{"chargePointModel":"M"}]',
        "c13",
        "OccurenceConstraintViolation",
    ),
    (
        "ocpp1.6",
        '[2,"c14","StatusNotification",{"connectorId":"one","errorCode":"NoError",'
        '"status":"Available"}]',
        "c14",
        "TypeConstraintViolation",
    ),
    (
        "ocpp1.6",
        '[2,"c15","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Bogus"}]',
        "c15",
        "PropertyConstraintViolation",
    ),
    (
        "ocpp1.6",
        '[2,"c16","BootNotification",{"chargePointVendor":"'
        + "V" * 21
        + '","chargePointModel":"M"}]',
        "c16",
        "PropertyConstraintViolation",
    ),
    (
        "ocpp1.6",
        '[2,"c17","Authorize",{"idTag":"' + "A" * 21 + '"}]',
        "c17",
        "PropertyConstraintViolation",
    ),
    ("ocpp1.6", '[2,"c18","Heartbeat",{"extra":1}]', "c18", "FormationViolation"),
    ("ocpp1.6", '[2,"c19","Heartbeat",null]', "c19", OK),  # null = no payload (§4.2.1)
    ("ocpp1.6", '[2,"c20","BootNotification",' + BOOT16 + "]", "c20", OK),
    ("ocpp1.6", '[3,"never-asked",{}]', "never-asked", DROPPED),
    ("ocpp1.6", '[4,"never-asked","GenericError","",{}]', "never-asked", DROPPED),
    ("ocpp1.6", '[3,"c23"]', "c23", DROPPED),
    # -- OCPP 2.0.1 (Part 4 §4.3 Table 8) --
    ("ocpp2.0.1", "this is not json", "-1", "FormatViolation"),
    ("ocpp2.0.1", "[]", "-1", "RpcFrameworkError"),
    ("ocpp2.0.1", "[true]", "-1", "RpcFrameworkError"),
    ("ocpp2.0.1", '[7,"d3","Heartbeat",{}]', "d3", "MessageTypeNotSupported"),
    ("ocpp2.0.1", '[6,"d4","NotifyPeriodicEventStream",{}]', "d4", "MessageTypeNotSupported"),
    ("ocpp2.0.1", '[2,{},"Heartbeat",{}]', "-1", "RpcFrameworkError"),
    ("ocpp2.0.1", f'[2,"{LONG_ID}","Heartbeat",{{}}]', "-1", "RpcFrameworkError"),
    ("ocpp2.0.1", '[2,"d7","Heartbeat",{},{}]', "d7", "ProtocolError"),
    ("ocpp2.0.1", '[2,"d8","Heartbeat","payload"]', "d8", "FormatViolation"),
    ("ocpp2.0.1", '[2,"d9","NoSuchAction",{}]', "d9", "NotImplemented"),
    (
        "ocpp2.0.1",
        '[2,"d10","BootNotification",{"reason":"PowerUp"}]',
        "d10",
        "OccurrenceConstraintViolation",
    ),
    (
        "ocpp2.0.1",
        '[2,"d11","StatusNotification",{"timestamp":"2024-11-21T08:15:02Z",'
        '"connectorStatus":"Available","evseId":"one","connectorId":1}]',
        "d11",
        "TypeConstraintViolation",
    ),
    (
        "ocpp2.0.1",
        '[2,"d12","BootNotification",{"reason":"Bogus","chargingStation":'
        '{"model":"M","vendorName":"V"}}]',
        "d12",
        "PropertyConstraintViolation",
    ),
    ("ocpp2.0.1", '[2,"d13","Heartbeat",{"extra":1}]', "d13", "FormatViolation"),
    ("ocpp2.0.1", '[2,"d14","Heartbeat",null]', "d14", OK),
    ("ocpp2.0.1", '[2,"d15","StatusNotification",' + STATUS201 + "]", "d15", OK),
    ("ocpp2.0.1", '[3,"never-asked",{}]', "never-asked", DROPPED),
    ("ocpp2.0.1", '[4,"d17","GenericError"]', "d17", DROPPED),
]


async def _next(ws: ClientConnection, wait_s: float = 5.0) -> list[object] | None:
    try:
        frame = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
    except TimeoutError:
        return None
    assert isinstance(frame, list)
    return frame


async def _alive(ws: ClientConnection) -> None:
    probe = f"hb-{uuid.uuid4().hex[:6]}"
    await ws.send(f'[2,"{probe}","Heartbeat",{{}}]')
    answer = await _next(ws)
    assert answer is not None and answer[:2] == [3, probe], answer


def test_the_table_is_big_enough() -> None:
    assert len(TABLE) >= 30
    assert {v for v, *_ in TABLE} == {"ocpp1.6", "ocpp2.0.1"}


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_conformance_table(routed: RunningSuite, version: str) -> None:
    """One connection per version walks the whole table: every answer exact, nothing breaks."""
    cid = f"CONF-{uuid.uuid4().hex[:8]}"
    rows = [row for row in TABLE if row[0] == version]
    async with connect(routed.charger_url(cid), subprotocols=[version]) as ws:  # type: ignore[list-item]
        for _, frame, message_id, expected in rows:
            await ws.send(frame)
            if expected is DROPPED:
                await _alive(ws)  # the next thing the charger hears is its probe's answer
                continue
            answer = await _next(ws)
            assert answer is not None, f"no answer to {frame!r}"
            if expected == OK:
                assert answer[:2] == [3, message_id], (frame, answer)
                continue
            assert answer[0] == 4 and answer[1] == message_id, (frame, answer)
            assert answer[2] == expected, (frame, answer)
            assert isinstance(answer[3], str) and 0 < len(answer[3]) <= 255
            assert answer[4] == {}
        await _alive(ws)


async def test_reused_id_of_an_outstanding_call_is_refused(routed: RunningSuite) -> None:
    """OCPP-J 1.6 §4.1.4 / 2.0.1 Part 4 §4.1.4: ids are unique per connection; a CALL reusing the
    id of one still being handled gets a CALLERROR, the first still gets its answer."""
    async with connect(
        routed.charger_url(f"DUP-{uuid.uuid4().hex[:8]}"), subprotocols=["ocpp2.0.1"]
    ) as ws:  # type: ignore[list-item]
        await ws.send('[2,"same","BootNotification",' + BOOT201 + "]")
        await ws.send('[2,"same","Heartbeat",{}]')
        answers = [await _next(ws), await _next(ws)]
    assert all(a is not None and a[1] == "same" for a in answers)
    kinds = sorted((a[0], a[2] if a[0] == 4 else "") for a in answers if a)
    assert kinds == [(3, ""), (4, "RpcFrameworkError")]


async def test_message_rate_limit(routed: RunningSuite) -> None:
    """Over the per-charger limit (burst 60, then 20/s): CALLERROR GenericError 'rate limited';
    the charger is served again once it slows down; one that keeps flooding is closed (1008)."""
    async with connect(
        routed.charger_url(f"RATE-{uuid.uuid4().hex[:8]}"), subprotocols=["ocpp1.6"]
    ) as ws:  # type: ignore[list-item]
        for i in range(75):
            await ws.send(f'[2,"r{i}","Heartbeat",{{}}]')
        answers = [await _next(ws) for _ in range(75)]
        limited = [a for a in answers if a and a[0] == 4]
        assert limited and all(a[2] == "GenericError" and "rate limited" in a[3] for a in limited)  # type: ignore[operator]
        assert sum(1 for a in answers if a and a[0] == 3) >= 60
        await asyncio.sleep(1.0)
        await _alive(ws)
        with pytest.raises(ConnectionClosed) as closed:
            for i in range(400):
                await ws.send(f'[2,"f{i}","Heartbeat",{{}}]')
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_oversized_frame_closes_with_1009(routed: RunningSuite) -> None:
    async with connect(
        routed.charger_url(f"BIG-{uuid.uuid4().hex[:8]}"), subprotocols=["ocpp1.6"], max_size=None
    ) as ws:  # type: ignore[list-item]
        data = "x" * 300_000  # SY_MAX_FRAME_BYTES is 262144
        await ws.send(f'[2,"big","DataTransfer",{{"vendorId":"V","data":"{data}"}}]')
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_lenient_validation_forwards_and_counts(routed: RunningSuite) -> None:
    cid = f"LENIENT-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=routed.api("edge"), headers=routed.admin_headers) as api:
        put = await api.put(f"/policies/{cid}", json={"validation": "lenient"})
        assert put.status_code == 200, put.text
        before = _lenient_count((await api.get("/metrics")).text)
        async with connect(routed.charger_url(cid), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            # A vendor status the schema does not know: strict would answer itself; lenient
            # forwards it, so the answer comes from the backend (the CSMS peer).
            await ws.send(
                '[2,"l1","StatusNotification",{"connectorId":1,"errorCode":"NoError",'
                '"status":"Occupied"}]'
            )
            answer = await _next(ws, 10)
            assert answer is not None and answer[1] == "l1"
            listed = (await api.get("/chargers")).json()
            assert next(c for c in listed if c["charger_id"] == cid)["validation"] == "lenient"
        after = _lenient_count((await api.get("/metrics")).text)
        await api.delete(f"/policies/{cid}")
    assert after == before + 1


def _lenient_count(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("sy_edge_lenient_violations_total{")
    )
