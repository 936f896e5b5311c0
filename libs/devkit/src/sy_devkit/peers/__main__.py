"""`python -m sy_devkit.peers csms|charger`: a CSMS or a charger to try Switchyard with."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sy_devkit.peers.charger import Charger16, connect_charger
from sy_devkit.peers.csms import CsmsPeer
from sy_devkit.peers.scenario import session_16, session_201


async def _csms(port: int) -> None:
    peer = await CsmsPeer().start(port)
    print(f"CSMS listening on {peer.url}/<chargerId> (ocpp1.6, ocpp2.0.1); Ctrl-C stops it")
    try:
        await asyncio.Event().wait()
    finally:
        await peer.stop()


async def _charger(url: str, version: str, meter_values: int) -> None:
    charger_id = url.rstrip("/").rsplit("/", 1)[-1]

    def report(action: str, answer: Any) -> None:
        print(f"{charger_id}  {action:<20} -> {answer}")

    async with connect_charger(url, charger_id, f"ocpp{version}") as (charger, _):
        if isinstance(charger, Charger16):
            await session_16(charger, report, meter_values)
        else:
            await session_201(charger, report, meter_values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sy_devkit.peers")
    sub = parser.add_subparsers(dest="role", required=True)
    csms = sub.add_parser("csms", help="run a CSMS that accepts any charger")
    csms.add_argument("--port", type=int, default=9100)
    charger = sub.add_parser("charger", help="run one charging session against a URL")
    charger.add_argument("--url", required=True, help="ws://host:port/ocpp/<chargerId>")
    charger.add_argument("--ocpp", choices=["1.6", "2.0.1"], default="1.6")
    charger.add_argument("--meter-values", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        if args.role == "csms":
            asyncio.run(_csms(args.port))
        else:
            asyncio.run(_charger(args.url, args.ocpp, args.meter_values))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"cannot connect: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
