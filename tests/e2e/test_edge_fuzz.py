"""A socket-level fuzz run of the edge: a charger sends thousands of random and mutated frames
while a neighbour charger keeps sending heartbeats. The edge never crashes, every neighbour
heartbeat is answered, and every answer the fuzzer gets is a well-formed OCPP-J frame."""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
import uuid

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sy_devkit.pytest_plugin import RunningSuite

SEEDS = [
    '[2,"1","Heartbeat",{}]',
    '[2,"2","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]',
    '[2,"3","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Available"}]',
    '[2,"4","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2024-11-21T08:15:02Z",'
    '"sampledValue":[{"value":"12.5","unit":"kWh"}]}]}]',
    '[3,"5",{}]',
    '[4,"6","GenericError","",{}]',
]
ALPHABET = string.printable + "\u00e9\u4e2d\U0001f600\x00"


def _mutate(rng: random.Random, text: str) -> str | bytes:
    choice = rng.randrange(9)
    if choice == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if choice == 1:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 300)))
    if choice == 2:  # cut
        return text[: rng.randrange(len(text) + 1)]
    if choice == 3:  # flip characters
        chars = list(text)
        for _ in range(rng.randrange(1, 6)):
            chars[rng.randrange(len(chars))] = rng.choice(ALPHABET)
        return "".join(chars)
    if choice == 4:  # nest deeply
        depth = rng.randrange(10, 2000)
        return f'[2,"d","Heartbeat",{"[" * depth}{"]" * depth}]'
    if choice == 5:  # random JSON arrays
        items = [
            rng.choice([None, True, 2, -1, 3.5, "x" * rng.randrange(50), {}, []])
            for _ in range(rng.randrange(6))
        ]
        return json.dumps([rng.choice([2, 3, 4, 5, 6, 7, "2"]), *items])
    if choice == 6:  # huge id or action
        return f'[2,"{"i" * rng.randrange(30, 60)}","{"A" * rng.randrange(100)}",{{}}]'
    if choice == 7:  # swap types in a valid frame
        frame = json.loads(text)
        frame[rng.randrange(len(frame))] = rng.choice([None, 1, "s", [], {}, 1e308])
        return json.dumps(frame)
    return text


async def _neighbour(ws: ClientConnection, stop: asyncio.Event, latencies: list[float]) -> None:
    i = 0
    while not stop.is_set():
        started = time.perf_counter()
        await ws.send(f'[2,"n{i}","Heartbeat",{{}}]')
        answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert answer[:2] == [3, f"n{i}"], answer
        latencies.append(time.perf_counter() - started)
        i += 1
        await asyncio.sleep(0.05)


async def test_fuzz_the_charger_socket(routed: RunningSuite) -> None:
    rng = random.Random(20261121)
    stop = asyncio.Event()
    latencies: list[float] = []
    sent = answered = reconnects = 0
    fuzz_url = routed.charger_url(f"FUZZ-{uuid.uuid4().hex[:8]}")
    async with connect(
        routed.charger_url(f"NEIGHBOUR-{uuid.uuid4().hex[:8]}"), subprotocols=["ocpp1.6"]
    ) as neighbour:  # type: ignore[list-item]
        beating = asyncio.create_task(_neighbour(neighbour, stop, latencies))
        for version in ("ocpp1.6", "ocpp2.0.1"):
            ws = await connect(fuzz_url, subprotocols=[version], max_size=None)  # type: ignore[list-item]
            for _ in range(1500):
                frame = _mutate(rng, rng.choice(SEEDS))
                try:
                    await ws.send(frame)
                    sent += 1
                    while True:  # read whatever came back so far
                        reply = await asyncio.wait_for(ws.recv(), 0.002)
                        doc = json.loads(reply)
                        assert isinstance(doc, list) and doc[0] in (3, 4), doc
                        if doc[0] == 4:
                            assert isinstance(doc[2], str) and isinstance(doc[4], dict)
                        answered += 1
                except TimeoutError:
                    pass
                except ConnectionClosed as closed:
                    # The rate limit closes a flooding charger (1008); it reconnects.
                    assert closed.rcvd is None or closed.rcvd.code in (1008, 1009, 1007), closed
                    reconnects += 1
                    await asyncio.sleep(0.2)
                    ws = await connect(fuzz_url, subprotocols=[version], max_size=None)  # type: ignore[list-item]
            await ws.close()
        stop.set()
        await beating
    assert routed.services["edge"].alive()
    latencies.sort()
    print(
        f"\nfuzz: {sent} frames sent, {answered} answers read, {reconnects} reconnects; "
        f"neighbour: {len(latencies)} heartbeats, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.0f} ms"
    )
    assert len(latencies) > 20
