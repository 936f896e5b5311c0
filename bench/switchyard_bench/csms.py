"""The CSMS every path talks to, in its own process: the lean one (`csms_lean.py`, default) or
sy_devkit's `CsmsPeer` built with the `ocpp` library.

    python -m switchyard_bench.csms --port P [--peer lean|ocpp]

`CsmsPeer` records every frame for tests; under bench load that record would only grow, so it is
emptied every few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from switchyard_bench.csms_lean import serve_lean
from switchyard_bench.loadgen import raise_fd_limit
from sy_devkit.peers import CsmsPeer


async def serve(port: int, peer_kind: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if peer_kind == "lean":
        await serve_lean(port, stop)
        return
    peer = await CsmsPeer("bench-csms").start(port)
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
    parser.add_argument("--peer", choices=("lean", "ocpp"), default="lean")
    args = parser.parse_args()
    raise_fd_limit()
    asyncio.run(serve(args.port, args.peer))


if __name__ == "__main__":
    main()
