"""A lean simulated charger: a raw WebSocket that sends and reads OCPP-J frames itself.

No `ocpp` ChargePoint per connection: thousands of idle chargers must cost the generator little.
Frames come from `frames.Profile`; this module only does I/O: connect (honouring HTTP 503
Retry-After), one outstanding CALL at a time, answers to backend CALLs, and reconnecting when the
gateway goes away.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from switchyard_bench.frames import Profile, answer


@dataclass
class Outcome:
    """What one CALL came to: seconds from send to answer, and whether it was a CALLRESULT."""

    action: str
    seconds: float
    ok: bool
    sent_at: float


@dataclass
class Charger:
    charger_id: str
    url: str
    profile: Profile
    rng: random.Random
    ws: ClientConnection | None = None
    busy: bool = False
    booted_at: float | None = None  # monotonic time of the last completed boot
    reconnect: bool = False  # dial again (and boot) when the socket closes
    _waiting: tuple[str, asyncio.Future[str]] | None = None
    _reader: asyncio.Task[None] | None = None
    _closing: bool = False
    _returning: bool = False
    _back: asyncio.Task[None] | None = None
    refusals: int = 0  # HTTP 503s met while dialling
    failures: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        return self.profile.version

    async def dial(self, timeout_s: float = 60.0, max_delay_s: float = 8.0) -> None:
        """Open the socket, retrying refusals (503: after Retry-After) until `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        delay = self.rng.uniform(0.2, 1.0)
        while True:
            try:
                self.ws = await connect(
                    self.url,
                    subprotocols=[self.version],  # type: ignore[list-item]
                    ping_interval=None,  # the gateway pings; pongs are automatic
                    compression=None,
                    open_timeout=30,
                    max_queue=4,
                )
                break
            except InvalidStatus as exc:
                self.refusals += 1
                retry = exc.response.headers.get("Retry-After")
                wait = float(retry) if retry and retry.isdigit() else delay
            except (OSError, TimeoutError, WebSocketException) as exc:
                # refused, reset or cut during the handshake (the gateway restarting): retry
                wait = delay
                if len(self.failures) < 3:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"{self.charger_id}: not connected after {timeout_s:.0f}s")
            await asyncio.sleep(wait)
            delay = min(delay * 2, max_delay_s) * self.rng.uniform(0.8, 1.2)
        self._reader = asyncio.create_task(self._read(self.ws))

    async def boot(self, timeout_s: float = 60.0) -> list[Outcome]:
        outcomes = [
            await self.call(action, frame, timeout_s)
            for action, frame in self.profile.boot_frames()
        ]
        if all(o.ok for o in outcomes):
            self.booted_at = time.monotonic()
        return outcomes

    async def step(self, timeout_s: float) -> Outcome:
        action, frame = self.profile.next()
        return await self.call(action, frame, timeout_s)

    async def call(self, action: str, frame: str, timeout_s: float) -> Outcome:
        self.busy = True
        ws = self.ws
        message_id = frame.split('"', 2)[1]
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting = (message_id, future)
        start = time.perf_counter()
        try:
            if ws is None:
                raise ConnectionError("not connected")
            await ws.send(frame)
            text = await asyncio.wait_for(future, timeout_s)
            seconds = time.perf_counter() - start
            self.profile.answered(action, text)
            return Outcome(action, seconds, text.startswith("[3"), start)
        except (TimeoutError, ConnectionError, WebSocketException):
            return Outcome(action, time.perf_counter() - start, False, start)
        finally:
            self._waiting = None
            self.busy = False

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                if text.startswith("[2"):  # a backend CALL: accept it
                    await ws.send(answer(json.loads(text)[1]))
                    continue
                waiting = self._waiting
                if waiting and not waiting[1].done() and text.split('"', 2)[1] == waiting[0]:
                    waiting[1].set_result(text)
        except WebSocketException:
            pass
        finally:
            if self._waiting and not self._waiting[1].done():
                self._waiting[1].set_exception(ConnectionError("closed"))
            if self.reconnect and not self._closing and self.ws is ws and not self._returning:
                self._back = asyncio.get_running_loop().create_task(self._come_back())

    async def _come_back(self) -> None:
        """The gateway went away: dial again after a short random back-off (then every 1-2 s
        while refused, or after Retry-After on HTTP 503) and boot until the boot is accepted."""
        if self._returning:
            return
        self._returning = True
        self.ws = None
        self.booted_at = None
        try:
            await asyncio.sleep(self.rng.uniform(0.0, 1.0))
            while self.reconnect and not self._closing:
                try:
                    if self.ws is None:
                        await self.dial(timeout_s=600, max_delay_s=2.0)
                    outcomes = await self.boot()
                except TimeoutError as exc:
                    self.failures.append(f"reconnect: {exc}")
                    return
                except Exception as exc:  # whatever it was, a charger tries again
                    self.failures.append(f"reconnect: {type(exc).__name__}: {exc}")
                    outcomes = []
                if outcomes and all(o.ok for o in outcomes):
                    return
                if self.ws is not None and self.ws.close_code is not None:
                    self.ws = None  # closed while booting: dial again
                await asyncio.sleep(self.rng.uniform(1.0, 2.0))
        finally:
            self._returning = False

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        self.ws = None
        self._closing = False
