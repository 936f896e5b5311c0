"""One WebSocket from the gateway to one backend, on behalf of one charger.

The backend sees `<backend url>/<chargerId>` with the charger's own OCPP version, as if the
charger had dialled it. The socket is redialled with exponential backoff and jitter while the
charger is connected; CALLs outstanding when it drops fail at once so the charger hears why.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from urllib.parse import quote

from prometheus_client import Histogram
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from sy_bus import BackendRef, FrameDirection, FramePublisher
from sy_calls import PendingCalls, stop_task
from sy_codec import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    FrameError,
    OcppVersion,
    decode,
    encode,
    peek_message_type,
)
from sy_connectors import metrics
from sy_connectors.access import DialGate, SecretUnavailable, headers_for, ssl_for
from sy_connectors.readdress import readdressed_answer, readdressed_call
from sy_connectors.settings import ConnectorSettings

log = logging.getLogger(__name__)


# Counted on every frame: the labelled children once, not a `labels()` lookup per frame.
_FRAMES_TO_BACKEND = metrics.FRAMES.labels("to_backend")
_FRAMES_FROM_BACKEND = metrics.FRAMES.labels("from_backend")
_BACKEND_SECONDS: dict[str, Histogram] = {}


def _backend_seconds(backend: str) -> Histogram:
    child = _BACKEND_SECONDS.get(backend)
    if child is None:
        child = _BACKEND_SECONDS[backend] = metrics.BACKEND_SECONDS.labels(backend)
    return child


class BackendUnavailable(Exception):
    """The backend connection is not open and did not open in time."""


# Called for each CALL the backend sends: (this upstream, the frame parsed, its exact text).
BackendCall = Callable[["Upstream", Call, str], None]


class Upstream:
    def __init__(
        self,
        charger_id: str,
        version: OcppVersion,
        backend: BackendRef,
        settings: ConnectorSettings,
        frames: FramePublisher,
        on_call: BackendCall,
        gate: DialGate | None = None,
    ) -> None:
        self.charger_id = charger_id
        self.version = version
        self.backend = backend
        self._settings = settings
        self._frames = frames
        self._on_call = on_call
        self._gate = gate
        self.role = "primary"  # primary | shadow | retired (kept for its open transactions)
        # The charger's socket at the edge, stamped on every captured frame so the journal can
        # link this hop to the charger's side of the same exchange.
        self.connection_id = ""
        self.on_open: Callable[[Upstream], None] | None = None
        self._pending = PendingCalls()
        self._ws: ClientConnection | None = None
        self._open = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._log = {"charger_id": charger_id, "backend": backend.name}
        base = backend.url_for(version.value).rstrip("/")
        self.url = f"{base}/{quote(charger_id, safe='')}"
        self.connected_since: float | None = None
        self.dials = 0
        self.session_id = ""
        self._background: set[asyncio.Future[None]] = set()
        # Set when the charger came back on a new socket while this one stayed open: its message
        # ids start afresh and may repeat ids this socket has carried, so until this socket is
        # renewed every charger CALL goes up under a gateway id (invariant 3).
        self.rewrite_ids = False

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_open(), name=f"upstream:{self.charger_id}")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close(1000, "charger left or route changed")
        await stop_task(self._task)
        self._pending.fail_all("backend connection closed")

    async def wait_open(self, timeout_s: float) -> bool:
        if self._open.is_set():
            return True
        try:
            await asyncio.wait_for(self._open.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def call(self, message_id: str, text: str) -> str:
        """Send a charger CALL upstream and return the backend's answer (frame text)."""
        # Open on nearly every CALL: no wait_for (a task and a timer) just to find that out.
        if not self._open.is_set() and not await self.wait_open(self._settings.connect_timeout_s):
            raise BackendUnavailable(self.backend.name)
        ws = self._ws
        if ws is None:  # it dropped again before this CALL's turn came
            raise BackendUnavailable(self.backend.name)
        charger_id = message_id
        if self.rewrite_ids:
            message_id, text = readdressed_call(text, self.version)
        waiting = self._pending.expect(message_id)
        started = time.perf_counter()
        try:
            await self._send(ws, text, message_id)
        except ConnectionClosed:
            self._pending.resolve(message_id, "")
            raise ConnectionError("backend connection lost") from None
        timeout = self.backend.call_timeout_s or self._settings.call_timeout_s
        answer = await self._pending.wait(message_id, waiting, timeout)
        _backend_seconds(self.backend.name).observe(time.perf_counter() - started)
        if message_id != charger_id:
            answer = readdressed_answer(answer, charger_id, self.version)
        return answer

    async def answer(self, text: str, message_id: str) -> None:
        """Send the charger's answer to a backend CALL."""
        ws = self._ws
        if ws is None:
            log.warning("backend gone before answer %s was sent", message_id, extra=self._log)
            return
        try:
            await self._send(ws, text, message_id)
        except ConnectionClosed:
            log.warning("backend gone before answer %s was sent", message_id, extra=self._log)

    async def _send(self, ws: ClientConnection, text: str, message_id: str | None) -> None:
        ts = time.time_ns()
        await ws.send(text)
        _FRAMES_TO_BACKEND.inc()
        self._capture(FrameDirection.TO_BACKEND, text, ts, message_id)

    async def _keep_open(self) -> None:
        delay = self._settings.reconnect_initial_s
        while not self._closing:
            self.dials += 1
            try:
                if self._gate is not None:
                    await self._gate.wait()
                async with connect(
                    self.url,
                    additional_headers=headers_for(self.backend.auth),
                    ssl=ssl_for(self.url, self.backend.auth),
                    subprotocols=[self.version.value],  # type: ignore[list-item]
                    open_timeout=self._settings.connect_timeout_s,
                    ping_interval=self._settings.ping_interval_s,
                    ping_timeout=self._settings.ping_interval_s,
                    max_size=self._settings.max_frame_bytes,
                    compression=None,
                    user_agent_header="Switchyard",
                ) as ws:
                    if ws.subprotocol != self.version.value:
                        metrics.DIALS.labels(self.backend.name, "wrong_subprotocol").inc()
                        log.error(
                            "backend refused %s (answered %r)",
                            self.version.value,
                            ws.subprotocol,
                            extra=self._log,
                        )
                        await ws.close(1002, "subprotocol not agreed")
                    else:
                        metrics.DIALS.labels(self.backend.name, "open").inc()
                        delay = self._settings.reconnect_initial_s
                        await self._serve(ws)
            except SecretUnavailable as exc:
                metrics.DIALS.labels(self.backend.name, "no_credentials").inc()
                log.error("cannot dial %s: %s", self.url, exc, extra=self._log)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                metrics.DIALS.labels(self.backend.name, "failed").inc()
                log.warning("backend %s unreachable: %s", self.url, exc, extra=self._log)
            if self._closing:
                return
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self._settings.reconnect_max_s)

    async def _serve(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.rewrite_ids = False  # a new socket: the charger's own ids are unique on it again
        self.connected_since = time.time()
        self._open.set()
        if self.on_open is not None:
            self.on_open(self)
        metrics.UPSTREAMS_OPEN.inc()
        log.info("upstream open to %s", self.url, extra=self._log)
        try:
            async for message in ws:
                self._on_frame(message)
        except ConnectionClosed:
            pass
        finally:
            self._open.clear()
            self._ws = None
            self.connected_since = None
            metrics.UPSTREAMS_OPEN.dec()
            self._pending.fail_all("backend connection lost")
            if not self._closing:
                log.warning("upstream to %s closed: %s", self.url, ws.close_code, extra=self._log)

    def _on_frame(self, message: str | bytes) -> None:
        ts = time.time_ns()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        _FRAMES_FROM_BACKEND.inc()
        try:
            msg = decode(message, self.version)
        except FrameError as err:
            self._capture(FrameDirection.FROM_BACKEND, text, ts, err.message_id)
            log.warning("malformed frame from backend: %s", err.description, extra=self._log)
            if err.answerable and self._ws is not None:
                reply = encode(err.to_call_error(self.version))
                task = asyncio.ensure_future(self.answer(reply, err.message_id or "-1"))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return
        action = msg.action if isinstance(msg, Call) else None
        self._capture(FrameDirection.FROM_BACKEND, text, ts, msg.message_id, action)
        if isinstance(msg, Call):
            self._on_call(self, msg, text)
        elif isinstance(
            msg, CallResult | CallError | CallResultError
        ) and not self._pending.resolve(msg.message_id, text):
            metrics.DROPPED.labels("unknown_message_id").inc()
            log.warning(
                "backend answer with unknown id %r dropped", msg.message_id, extra=self._log
            )

    def _capture(
        self,
        direction: FrameDirection,
        text: str,
        ts: int,
        message_id: str | None,
        action: str | None = None,
    ) -> None:
        # The record's fields (`sy_bus.FrameFields`): the capture worker makes the record.
        self._frames.capture(
            (
                self.charger_id,
                direction,
                ts,
                self.version.value,
                text,
                peek_message_type(text),
                message_id,
                action,
                self.backend.name,
                self._settings.instance_id,
                self.connection_id,
                None,  # normalized
                [],  # rules
            )
        )
