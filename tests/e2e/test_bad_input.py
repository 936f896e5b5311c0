"""Bad input from a charger gets the protocol's answer for its OCPP version, and the connection
stays usable (invariant 7); handshakes the edge cannot serve are refused as the spec says."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sy_devkit.pytest_plugin import RunningSuite

HEARTBEAT = '[2,"hb-1","Heartbeat",{}]'


@pytest.mark.parametrize(
    ("version", "frame", "expected_id", "expected_code"),
    [
        # OCPP-J 1.6 §4.2.3 spells it FormationViolation (errata 5.2: kept on purpose).
        ("ocpp1.6", "this is not json", "-1", "FormationViolation"),
        ("ocpp2.0.1", "this is not json", "-1", "FormatViolation"),
        ("ocpp1.6", '[2,"m1","NoSuchAction",{}]', "m1", "NotImplemented"),
        ("ocpp2.0.1", '[2,"m1","NoSuchAction",{}]', "m1", "NotImplemented"),
        (
            "ocpp1.6",
            '[2,"m2","BootNotification",{"chargePointModel":"X"}]',
            "m2",
            "OccurenceConstraintViolation",
        ),
        (
            "ocpp2.0.1",
            '[2,"m2","BootNotification",{"reason":"PowerUp"}]',
            "m2",
            "OccurrenceConstraintViolation",
        ),
        ("ocpp2.0.1", '[7,"m3","Heartbeat",{}]', "m3", "MessageTypeNotSupported"),
        (
            "ocpp1.6",
            '[2,"m4","StatusNotification",{"connectorId":"one","errorCode":"NoError",'
            '"status":"Available"}]',
            "m4",
            "TypeConstraintViolation",
        ),
    ],
)
async def test_malformed_frame_gets_callerror_and_connection_survives(
    routed: RunningSuite,
    charger_id: str,
    version: str,
    frame: str,
    expected_id: str,
    expected_code: str,
) -> None:
    async with connect(routed.charger_url(charger_id), subprotocols=[version]) as ws:  # type: ignore[list-item]
        await ws.send(frame)
        error = json.loads(await ws.recv())
        assert error[0] == 4
        assert error[1] == expected_id
        assert error[2] == expected_code
        assert isinstance(error[3], str) and error[3]
        assert error[4] == {}
        await ws.send(HEARTBEAT)
        answer = json.loads(await ws.recv())
        assert answer[:2] == [3, "hb-1"]
        assert "currentTime" in answer[2]


async def test_answer_with_unknown_id_is_dropped(routed: RunningSuite, charger_id: str) -> None:
    async with connect(routed.charger_url(charger_id), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
        await ws.send('[3,"never-asked",{}]')
        await ws.send(HEARTBEAT)
        answer = json.loads(await ws.recv())
        assert answer[:2] == [3, "hb-1"]  # nothing came back for the stray answer


async def test_handshake_without_supported_subprotocol_is_closed(
    routed: RunningSuite, charger_id: str
) -> None:
    # OCPP-J 1.6 §3.2 / 2.0.1 Part 4 §3.2: complete the handshake without a subprotocol, then close.
    async with connect(routed.charger_url(charger_id), subprotocols=["ocpp1.5"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1002


async def test_wrong_path_is_refused_with_404(routed: RunningSuite) -> None:
    url = f"ws://127.0.0.1:{routed.ocpp_port}/not-ocpp/CP1"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, subprotocols=["ocpp1.6"]):  # type: ignore[list-item]
            pass
    assert refused.value.response.status_code == 404


async def test_edge_lists_connected_chargers(routed: RunningSuite, charger_id: str) -> None:
    async with connect(routed.charger_url(charger_id), subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[list-item]
        await ws.send('[2,"hb-2","Heartbeat",{}]')
        await ws.recv()
        async with httpx.AsyncClient(
            base_url=routed.api("edge"), headers=routed.admin_headers
        ) as api:
            listed = (await api.get("/chargers")).json()
    mine = [c for c in listed if c["charger_id"] == charger_id]
    assert len(mine) == 1
    assert mine[0]["ocpp"] == "ocpp2.0.1"
