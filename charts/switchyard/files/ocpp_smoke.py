"""`helm test`: open a real OCPP 1.6 WebSocket to the edge, send a CALL and expect an answer.

Runs in the edge image (python + websockets). Passes when the edge accepts the socket with the
ocpp1.6 subprotocol and answers our CALL with a CALLRESULT or a CALLERROR carrying its message id
(a CALLERROR is a real answer: there may be no route for the test charger yet). Anything else, or
no answer within SY_SMOKE_TIMEOUT seconds, exits non-zero.

    SY_SMOKE_URL=ws://switchyard-edge:9000/ocpp/helm-test python ocpp_smoke.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

CALL, CALLRESULT, CALLERROR = 2, 3, 4


async def smoke(url: str, wait_s: float) -> str:
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=wait_s) as ws:
        if ws.subprotocol != "ocpp1.6":
            raise RuntimeError(f"edge chose subprotocol {ws.subprotocol!r}, not ocpp1.6")
        message_id = uuid.uuid4().hex
        boot = {"chargePointVendor": "Switchyard", "chargePointModel": "helm-test"}
        await ws.send(json.dumps([CALL, message_id, "BootNotification", boot]))
        async with asyncio.timeout(wait_s):
            while True:
                frame = json.loads(await ws.recv())
                # The edge may send its own CALLs meanwhile; only the answer to ours counts.
                if isinstance(frame, list) and len(frame) >= 3 and frame[1] == message_id:
                    if frame[0] == CALLRESULT:
                        return f"CALLRESULT {json.dumps(frame[2])}"
                    if frame[0] == CALLERROR:
                        return f"CALLERROR {frame[2]}"
                    raise RuntimeError(f"unexpected frame for our CALL: {frame!r}")


def main() -> int:
    url = os.environ["SY_SMOKE_URL"]
    timeout = float(os.environ.get("SY_SMOKE_TIMEOUT", "30"))
    try:
        answer = asyncio.run(smoke(url, timeout))
    except Exception as exc:
        print(f"FAIL {url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"OK {url}: {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
