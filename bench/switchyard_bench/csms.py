"""The CSMS every path talks to: sy_devkit's `CsmsPeer` (the `ocpp` library), in its own process.

    python -m switchyard_bench.csms --port P

The peer records every frame for tests; under bench load that record would only grow, so it is
emptied every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from switchyard_bench.loadgen import raise_fd_limit
from sy_devkit.peers import CsmsPeer


async def serve(port: int) -> None:
    peer = await CsmsPeer("bench-csms").start(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"CSMS listening on {peer.url}", flush=True)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5.0)
        peer.history.clear()
        for session in list(peer.sessions.values()):
            session.received.clear()
        for conn in list(peer.connections.values()):
            conn.sent.clear()
            conn.received.clear()
    await peer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m switchyard_bench.csms")
    parser.add_argument("--port", type=int, required=True)
    raise_fd_limit()
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
