"""Everything the connectors hold for one charger: its upstream to the primary backend and the
two serial lanes (charger CALLs up, backend CALLs down), one outstanding CALL each (invariant 2).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import trace

from sy_bus import BackendRef, FramePublisher, Header, subjects
from sy_calls import Lane, LaneClosed
from sy_codec import Call, CallError, ErrorKind, OcppVersion, decode, encode, error_code
from sy_connectors import metrics
from sy_connectors.sessions import SessionLog
from sy_connectors.settings import ConnectorSettings
from sy_connectors.upstream import BackendUnavailable, Upstream
from sy_platform.telemetry import extract_context

log = logging.getLogger(__name__)
tracer = trace.get_tracer("sy_connectors")


@dataclass
class LinkContext:
    settings: ConnectorSettings
    nc: Client
    frames: FramePublisher
    sessions: SessionLog


class ChargerLink:
    def __init__(
        self,
        charger_id: str,
        version: OcppVersion,
        primary: BackendRef,
        ctx: LinkContext,
        connection_id: str = "",
        presence_ts: int = 0,
    ) -> None:
        self.charger_id = charger_id
        self.version = version
        self.connection_id = connection_id
        self.presence_ts = presence_ts
        self._ctx = ctx
        self._log = {"charger_id": charger_id}
        self._down_subject = subjects.down(charger_id)
        self._background: set[asyncio.Task[None]] = set()
        self._up: Lane[Msg] = Lane(f"up:{charger_id}", self._relay_up, on_drop=self._refuse_up)
        self._down: Lane[tuple[Call, str]] = Lane(f"down:{charger_id}", self._relay_down)
        self.upstream = self._open(primary)

    @property
    def primary(self) -> BackendRef:
        return self.upstream.backend

    def _open(self, backend: BackendRef) -> Upstream:
        upstream = Upstream(
            self.charger_id,
            self.version,
            backend,
            self._ctx.settings,
            self._ctx.frames,
            on_call=self._on_backend_call,
        )
        upstream.start()
        upstream.session_id = self._ctx.sessions.started(
            self.charger_id, backend.name, upstream.url, self.version.value
        )
        return upstream

    async def switch(self, primary: BackendRef) -> None:
        """Point the charger at another primary backend (the charger's socket is untouched)."""
        if primary == self.upstream.backend:
            return
        log.info(
            "primary backend %s -> %s", self.upstream.backend.name, primary.name, extra=self._log
        )
        old, self.upstream = self.upstream, self._open(primary)
        await self._close_upstream(old)

    async def _close_upstream(self, upstream: Upstream) -> None:
        await upstream.close()
        self._ctx.sessions.ended(upstream.session_id)

    async def close(self) -> None:
        await self._up.close()
        await self._down.close()
        await self._close_upstream(self.upstream)

    # -- charger CALL (from the edge) -> primary backend ------------------------------------------

    def submit_up(self, msg: Msg) -> None:
        try:
            self._up.submit(msg)
        except (asyncio.QueueFull, LaneClosed):
            self._refuse_up(msg)

    async def _relay_up(self, msg: Msg) -> None:
        headers = msg.headers or {}
        text = msg.data.decode()
        message_id = headers.get(Header.MESSAGE_ID) or _message_id_of(text, self.version)
        backend = self.upstream.backend.name
        span_name = f"backend {headers.get(Header.ACTION, 'CALL')}"
        try:
            with tracer.start_as_current_span(span_name, context=extract_context(headers)) as span:
                span.set_attribute("ocpp.charger_id", self.charger_id)
                span.set_attribute("ocpp.backend", backend)
                answer = await self.upstream.call(message_id, text)
        except BackendUnavailable:
            answer = self._error(
                message_id, "backend_unreachable", f"backend {backend} unreachable"
            )
        except TimeoutError:
            timeout = self._ctx.settings.call_timeout_s
            answer = self._error(
                message_id, "backend_timeout", f"backend {backend} did not answer in {timeout:g}s"
            )
        except ConnectionError:
            answer = self._error(message_id, "backend_lost", f"connection to {backend} lost")
        await msg.respond(answer.encode())

    def _refuse_up(self, msg: Msg) -> None:
        headers = msg.headers or {}
        answer = self._error(headers.get(Header.MESSAGE_ID, "-1"), "busy", "gateway busy")
        self._spawn(msg.respond(answer.encode()))

    # -- backend CALL -> the edge holding the charger -------------------------------------------

    def _on_backend_call(self, call: Call, text: str) -> None:
        try:
            self._down.submit((call, text))
        except (asyncio.QueueFull, LaneClosed):
            answer = self._error(call.message_id, "busy", "charger busy")
            self._spawn(self.upstream.answer(answer, call.message_id))

    async def _relay_down(self, item: tuple[Call, str]) -> None:
        call, text = item
        upstream = self.upstream
        headers = {
            Header.CHARGER: self.charger_id,
            Header.OCPP: self.version.value,
            Header.MESSAGE_ID: call.message_id,
            Header.ACTION: call.action,
            Header.BACKEND: upstream.backend.name,
        }
        try:
            reply = await self._ctx.nc.request(
                self._down_subject,
                text.encode(),
                timeout=self._ctx.settings.charger_call_timeout_s,
                headers=headers,
            )
            answer = reply.data.decode()
        except NoRespondersError:
            answer = self._error(call.message_id, "charger_offline", "charger not connected")
        except NatsTimeout:
            answer = self._error(call.message_id, "charger_timeout", "charger did not answer")
        await upstream.answer(answer, call.message_id)

    # -- plumbing -------------------------------------------------------------------------------

    def _error(self, message_id: str, reason: str, description: str) -> str:
        metrics.GATEWAY_ERRORS.labels(reason).inc()
        log.warning("answering %s: %s", message_id, description, extra=self._log)
        code = error_code(ErrorKind.INTERNAL, self.version)
        return encode(CallError(message_id, code, description, {}))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _message_id_of(text: str, version: OcppVersion) -> str:
    try:
        return decode(text, version).message_id
    except Exception:
        return "-1"
