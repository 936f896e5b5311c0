"""Backend-initiated CALLs: the ACL of the backend's role on this route decides, message ids are
rewritten to gateway ids so CALLs from several backends never collide at the charger
(invariant 3), and they reach the charger one at a time (invariant 2), from every backend through
one lane. Reservation, charging-profile, remote-start and request ids are rewritten to the
charger-facing ids of the charger's id map (`idfields`, `idstore`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from sy_bus import Header, subjects
from sy_calls import Lane, LaneClosed
from sy_codec import Call, CallError, ErrorKind, encode, error_code
from sy_connectors import metrics
from sy_connectors.readdress import gateway_message_id, readdressed_answer
from sy_connectors.settings import ConnectorSettings
from sy_connectors.work import result_payload

if TYPE_CHECKING:
    from sy_connectors.link import ChargerLink
    from sy_connectors.upstream import Upstream

log = logging.getLogger(__name__)
# An old primary kept for its open transactions may still end them.
RETIRED_MAY_SEND = frozenset(
    {"RemoteStopTransaction", "RequestStopTransaction", "GetTransactionStatus"}
)


def allowed(upstream: Upstream, action: str) -> bool:
    if upstream.role == "primary":
        return upstream.backend.may_send(action)
    if upstream.role == "shadow":  # shadows send nothing unless the route says so
        return upstream.backend.commands is not None and action in upstream.backend.commands
    return action in RETIRED_MAY_SEND


class BackendCommands:
    def __init__(self, link: ChargerLink, nc: Client, settings: ConnectorSettings) -> None:
        self._link = link
        self._nc = nc
        self._settings = settings
        self._subject = subjects.down(link.charger_id)
        self._lane: Lane[tuple[Upstream, Call]] = Lane(f"down:{link.charger_id}", self._relay)
        self._background: set[asyncio.Future[None]] = set()

    def from_backend(self, upstream: Upstream, call: Call, text: str) -> None:
        if not allowed(upstream, call.action):
            metrics.COMMANDS.labels(upstream.role, "refused").inc()
            description = (
                f"Switchyard: backend {upstream.backend.name} ({upstream.role}) may not send "
                f"{call.action} to {self._link.charger_id}; allow it in the route's ACL"
            )
            log.warning(description, extra={"charger_id": self._link.charger_id})
            code = error_code(ErrorKind.SECURITY, self._link.version)
            refusal = encode(CallError(call.message_id, code, description[:255], {}))
            self._spawn(upstream.answer(refusal, call.message_id))
            return
        try:
            self._lane.submit((upstream, call))
        except (asyncio.QueueFull, LaneClosed):
            self._spawn(
                upstream.answer(self._error(call.message_id, "charger busy"), call.message_id)
            )

    async def _relay(self, item: tuple[Upstream, Call]) -> None:
        upstream, call = item
        backend = upstream.backend.name
        gateway_id = gateway_message_id()
        headers = {
            Header.CHARGER: self._link.charger_id,
            Header.OCPP: self._link.version.value,
            Header.MESSAGE_ID: gateway_id,
            Header.ACTION: call.action,
            Header.BACKEND: upstream.backend.name,
        }
        try:  # the backend's reservation, profile and request ids -> the charger's (idfields)
            payload = await self._link.ids.to_charger(backend, call)
        except Exception as exc:
            log.error("id map not stored: %r", exc, extra={"charger_id": self._link.charger_id})
            metrics.COMMANDS.labels(upstream.role, "id_map_failed").inc()
            answer = self._error(call.message_id, "gateway could not store its id map")
            await upstream.answer(answer, call.message_id)
            return
        payload = self._link.book.to_charger(Call(call.message_id, call.action, payload), backend)
        sent = Call(gateway_id, call.action, payload)
        try:
            reply = await self._nc.request(
                self._subject,
                encode(sent).encode(),
                timeout=self._settings.charger_call_timeout_s,
                headers=headers,
            )
            charger_answer = reply.data.decode()
            answer = readdressed_answer(charger_answer, call.message_id, self._link.version)
            await self._link.ids.answered(sent, result_payload(charger_answer, self._link.version))
            metrics.COMMANDS.labels(upstream.role, "answered").inc()
        except NoRespondersError:
            answer = self._error(call.message_id, "charger not connected")
            metrics.COMMANDS.labels(upstream.role, "charger_offline").inc()
        except NatsTimeout:
            answer = self._error(call.message_id, "charger did not answer")
            metrics.COMMANDS.labels(upstream.role, "timeout").inc()
        await upstream.answer(answer, call.message_id)

    def _error(self, message_id: str, description: str) -> str:
        code = error_code(ErrorKind.INTERNAL, self._link.version)
        return encode(CallError(message_id, code, description, {}))

    async def close(self) -> None:
        await self._lane.close()

    async def wait_idle(self, timeout_s: float) -> bool:
        return await self._lane.wait_idle(timeout_s)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
