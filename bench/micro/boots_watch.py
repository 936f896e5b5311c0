"""How much of the connectors' sy-state traffic routing's boot watcher receives.

A child process plays the connectors: for N chargers, one BootNotification then S
StatusNotifications each, through the real `ChargerMemory`. This process runs the watch that
`sy_routing.boots.BootLearner` runs (same filter, same decode) and reports the entries it received
and the CPU it spent on them.

    uv run python bench/micro/boots_watch.py [--chargers 500] [--statuses 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from pathlib import Path

import nats

from sy_bus import ChargerState, streams
from sy_codec import Call, OcppVersion
from sy_devkit.embedded_nats import EmbeddedNats

WATCHED = getattr(streams, "STATE_BOOT_KEYS", ">")  # before the boot keys: every key


def connectors(url: str, chargers: int, statuses: int) -> None:
    from sy_connectors.memory import ChargerMemory

    async def run() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        state_kv = await js.key_value(streams.STATE.name)
        tx_kv = await js.key_value(streams.TRANSACTIONS.name)
        for i in range(chargers):
            memory = ChargerMemory(f"CP-{i}", OcppVersion.V16, state_kv, tx_kv)
            boot = {"chargePointVendor": "Acme", "chargePointModel": "AC22"}
            call = Call(f"b{i}", "BootNotification", boot)
            memory.observe(call, f'[2,"b{i}","BootNotification",{{"chargePointVendor":"Acme"}}]')
            for s in range(statuses):
                payload = {"connectorId": s % 2 + 1, "status": "Available", "errorCode": "NoError"}
                memory.observe(Call(f"s{s}", "StatusNotification", payload), f'[2,"s{s}",{s}]')
            await memory.flush()
        await nc.close()

    asyncio.run(run())


async def main(chargers: int, statuses: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp), locked=False)
        server.start()
        try:
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            await streams.provision(js)
            kv = await js.key_value(streams.STATE.name)
            watcher = await kv.watch(WATCHED)
            received = 0
            expected_writes = chargers * (1 + statuses)
            child = multiprocessing.get_context("spawn").Process(
                target=connectors, args=(server.url, chargers, statuses)
            )
            cpu0, wall0 = time.process_time(), time.perf_counter()
            child.start()
            while True:
                try:
                    entry = await asyncio.wait_for(watcher.updates(), timeout=2.0)
                except TimeoutError:
                    if not child.is_alive():
                        break
                    continue
                if entry is None or not entry.value:
                    continue
                ChargerState.from_bytes(entry.value)
                received += 1
            cpu = time.process_time() - cpu0
            child.join()
            print(
                f"watch {WATCHED!r}: {expected_writes} sy-state writes, {received} received by the"
                f" boot watcher, watcher CPU {cpu:.2f} s (incl. idle polling), wall"
                f" {time.perf_counter() - wall0:.1f} s"
            )
            await nc.close()
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chargers", type=int, default=500)
    parser.add_argument("--statuses", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.chargers, args.statuses))
