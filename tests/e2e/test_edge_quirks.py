"""Quirk profiles on real-looking frames through a real edge: selected by the charger's
BootNotification (and remembered for its next connection) or configured per charger; the
journal record keeps the raw frame, the normalised one and the rules applied."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from websockets.asyncio.client import ClientConnection, connect

from sy_bus import FrameDirection, FrameRecord, subjects
from sy_devkit.net import free_port
from sy_devkit.pytest_plugin import RunningSuite
from sy_devkit.suite import ServiceProcess

SITE_PROFILE = """
profile: quirky-ac22
description: QuirkyCharge AC22 firmware 3.x - local time, kWh, vendor statuses
match: {vendor: "QuirkyCharge*", model: "AC22*", firmware: "3.*"}
include: [energy-kwh, status-strings, broken-json]
rules:
  - id: quirky-ac22/local-time
    type: timestamp
    actions: [MeterValues, StatusNotification]
    fields:
      - timestamp
      - meterValue[].timestamp
    zone: Europe/Berlin
"""
BOOT = (
    '[2,"b1","BootNotification",{"chargePointVendor":"QuirkyCharge GmbH","chargePointModel":'
    '"AC22-T2","firmwareVersion":"3.1.7","chargePointSerialNumber":"QC-000123"}]'
)
# As captured from the field: local time without offset, kWh, a 1.5 status name.
METER = (
    '[2,"m1","MeterValues",{"connectorId":1,"transactionId":4711,"meterValue":[{"timestamp":'
    '"2024-11-21T09:15:02","sampledValue":[{"value":"1234.567","context":"Sample.Periodic",'
    '"measurand":"Energy.Active.Import.Register","unit":"kWh"}]}]}]'
)
STATUS = (
    '[2,"s1","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Occupied",'
    '"timestamp":"2024-11-21 09:16:00"}]'
)
BROKEN = "[2,'h1','Heartbeat',{},]"


@pytest.fixture(scope="module")
def quirks_edge(routed: RunningSuite) -> Iterator[ServiceProcess]:
    folder = Path(tempfile.mkdtemp(prefix="sy-quirks-"))
    folder.chmod(0o755)
    (folder / "quirky.yaml").write_text(SITE_PROFILE)
    edge = routed.suite.start_service(
        "edge", free_port(), ocpp_port=free_port(), SY_QUIRKS_DIRS=json.dumps([str(folder)])
    )
    routed.suite.wait_ready(edge)
    yield edge
    edge.proc.terminate()
    edge.proc.wait(30)


async def _call(ws: ClientConnection, frame: str) -> list[object]:
    await ws.send(frame)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert isinstance(answer, list)
    return answer


async def test_profile_selected_by_boot_and_remembered(
    routed: RunningSuite, quirks_edge: ServiceProcess
) -> None:
    cid = f"QC-{uuid.uuid4().hex[:8]}"
    url = routed.charger_url(cid, port=quirks_edge.ocpp_port)
    nc = await nats.connect(routed.nats_url)
    records: list[FrameRecord] = []

    async def on_frame(msg: nats.aio.msg.Msg) -> None:
        records.append(FrameRecord.from_bytes(msg.data))

    await nc.subscribe(subjects.frames(cid, FrameDirection.FROM_CHARGER), cb=on_frame)
    try:
        async with connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            assert (await _call(ws, BOOT))[0] == 3
            assert (await _call(ws, METER))[:2] == [3, "m1"]
            assert (await _call(ws, STATUS))[:2] == [3, "s1"]  # strict edge: valid after repair
            assert (await _call(ws, BROKEN))[:2] == [3, "h1"]
        # Reconnect without a BootNotification (OCPP-J 2.0.1 Part 4 §5.3): still recognised.
        async with connect(url, subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            assert (await _call(ws, METER.replace('"m1"', '"m2"')))[:2] == [3, "m2"]
        await asyncio.sleep(0.3)
    finally:
        await nc.close()

    by_id = {r.message_id: r for r in records}
    meter = by_id["m1"]
    assert meter.raw == METER
    assert meter.rules == ["energy-kwh/v16-kwh", "quirky-ac22/local-time"]
    assert meter.normalized is not None
    forwarded = json.loads(meter.normalized)[3]["meterValue"][0]
    assert forwarded["timestamp"] == "2024-11-21T08:15:02Z"  # 09:15 in Berlin (CET)
    assert forwarded["sampledValue"][0]["value"] == "1234567"
    assert forwarded["sampledValue"][0]["unit"] == "Wh"
    status = json.loads(by_id["s1"].normalized or "")[3]
    assert status["status"] == "Charging" and status["timestamp"] == "2024-11-21T08:16:00Z"
    assert by_id["h1"].rules == ["broken-json/repair"] and by_id["h1"].raw == BROKEN
    assert by_id["m2"].rules == ["energy-kwh/v16-kwh", "quirky-ac22/local-time"]
    assert by_id["b1"].rules == [] and by_id["b1"].normalized is None

    async with httpx.AsyncClient(base_url=quirks_edge.api_url, headers=routed.admin_headers) as api:
        counts = (await api.get(f"/chargers/{cid}/quirks")).json()
        profiles = (await api.get("/quirks/profiles")).json()
    assert counts["vendor"] == "QuirkyCharge GmbH" and counts["firmware"] == "3.1.7"
    assert counts["rules_applied"] == {
        "quirky-ac22/local-time": 3,
        "energy-kwh/v16-kwh": 2,
        "status-strings/v16-status": 1,
        "broken-json/repair": 1,
    }
    assert {"quirky-ac22", "naive-timestamps", "energy-kwh"} <= {p["name"] for p in profiles}


async def test_profile_configured_per_charger(routed: RunningSuite) -> None:
    cid = f"QP-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=routed.api("edge"), headers=routed.admin_headers) as api:
        put = await api.put(
            f"/policies/{cid}", json={"quirk_profiles": ["naive-timestamps", "field-names"]}
        )
        assert put.status_code == 200, put.text
        bad = await api.put(f"/policies/{cid}-x", json={"quirk_profiles": ["no-such-profile"]})
        assert bad.status_code == 422
        async with connect(routed.charger_url(cid), subprotocols=["ocpp1.6"]) as ws:  # type: ignore[list-item]
            start = (
                '[2,"t1","StartTransaction",{"connectorID":1,"IdTag":"04A2B3C4","meterStart":0,'
                '"timestamp":"2024-11-21 08:15:02"}]'
            )
            answer = await _call(ws, start)
            assert answer[:2] == [3, "t1"], answer  # valid only after renaming + timestamp
            counts = (await api.get(f"/chargers/{cid}/quirks")).json()
        await api.delete(f"/policies/{cid}")
    assert counts["profiles"] == ["naive-timestamps", "field-names"]
    assert counts["rules_applied"] == {"naive-timestamps/v16": 1, "field-names/v16": 1}
