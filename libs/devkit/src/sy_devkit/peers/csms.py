"""A CSMS built with the `ocpp` library: accepts 1.6 and 2.0.1 chargers at /<any path>/<chargerId>,
answers the core messages, records everything, and can send commands to a connected charger."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action as A16
from ocpp.v16.enums import AuthorizationStatus, RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as r201
from ocpp.v201.enums import Action as A201
from ocpp.v201.enums import RegistrationStatusEnumType
from websockets.asyncio.server import Server, ServerConnection, serve

from sy_devkit.peers.recording import RecordingConnection

quiet = logging.getLogger("sy_devkit.peers.csms")
quiet.setLevel(logging.WARNING)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Recorder:
    """What every CSMS session shares: what it received, and how this CSMS answers."""

    id: str  # the charger id (set by the ocpp library's ChargePoint)
    received: list[tuple[str, dict[str, Any]]]
    peer: CsmsPeer

    def record(self, action: str, payload: dict[str, Any]) -> None:
        self.received.append((action, payload))
        self.peer.history.setdefault(self.id, []).append((action, payload))

    async def until_answering(self) -> None:
        """Wait while this CSMS holds its answers, counted in `peer.held` meanwhile."""
        if self.peer.answering.is_set():
            return
        held = self.peer.held
        held[self.id] = held.get(self.id, 0) + 1
        try:
            await self.peer.answering.wait()
        finally:
            held[self.id] -= 1


class Csms16(ChargePoint16, _Recorder):  # type: ignore[misc]
    @on(A16.boot_notification)
    def boot(self, **kw: Any) -> r16.BootNotification:
        self.record("BootNotification", kw)
        return r16.BootNotification(
            current_time=_now(), interval=300, status=RegistrationStatus.accepted
        )

    @on(A16.heartbeat)
    def heartbeat(self, **kw: Any) -> r16.Heartbeat:
        self.record("Heartbeat", kw)
        return r16.Heartbeat(current_time=_now())

    @on(A16.authorize)
    def authorize(self, **kw: Any) -> r16.Authorize:
        self.record("Authorize", kw)
        return r16.Authorize(id_tag_info={"status": self.peer.authorization})

    @on(A16.status_notification)
    def status(self, **kw: Any) -> r16.StatusNotification:
        self.record("StatusNotification", kw)
        return r16.StatusNotification()

    @on(A16.start_transaction)
    def start_tx(self, **kw: Any) -> r16.StartTransaction:
        self.record("StartTransaction", kw)
        return r16.StartTransaction(
            transaction_id=next(self.peer.transaction_ids),
            id_tag_info={"status": self.peer.authorization},
        )

    @on(A16.meter_values)
    async def meter_values(self, **kw: Any) -> r16.MeterValues:
        self.record("MeterValues", kw)
        await self.until_answering()
        return r16.MeterValues()

    @on(A16.stop_transaction)
    def stop_tx(self, **kw: Any) -> r16.StopTransaction:
        self.record("StopTransaction", kw)
        return r16.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(A16.log_status_notification)
    def log_status(self, **kw: Any) -> r16.LogStatusNotification:
        self.record("LogStatusNotification", kw)
        return r16.LogStatusNotification()


class Csms201(ChargePoint201, _Recorder):  # type: ignore[misc]
    @on(A201.boot_notification)
    def boot(self, **kw: Any) -> r201.BootNotification:
        self.record("BootNotification", kw)
        return r201.BootNotification(
            current_time=_now(), interval=300, status=RegistrationStatusEnumType.accepted
        )

    @on(A201.heartbeat)
    def heartbeat(self, **kw: Any) -> r201.Heartbeat:
        self.record("Heartbeat", kw)
        return r201.Heartbeat(current_time=_now())

    @on(A201.authorize)
    def authorize(self, **kw: Any) -> r201.Authorize:
        self.record("Authorize", kw)
        return r201.Authorize(id_token_info={"status": self.peer.authorization})

    @on(A201.status_notification)
    def status(self, **kw: Any) -> r201.StatusNotification:
        self.record("StatusNotification", kw)
        return r201.StatusNotification()

    @on(A201.transaction_event)
    async def transaction_event(self, **kw: Any) -> r201.TransactionEvent:
        self.record("TransactionEvent", kw)
        await self.until_answering()
        if "id_token" in kw:
            return r201.TransactionEvent(id_token_info={"status": self.peer.authorization})
        return r201.TransactionEvent()

    @on(A201.meter_values)
    def meter_values(self, **kw: Any) -> r201.MeterValues:
        self.record("MeterValues", kw)
        return r201.MeterValues()

    # Reports on this CSMS's requests, by requestId or reservation id.
    @on(A201.notify_report)
    def notify_report(self, **kw: Any) -> r201.NotifyReport:
        self.record("NotifyReport", kw)
        return r201.NotifyReport()

    @on(A201.log_status_notification)
    def log_status(self, **kw: Any) -> r201.LogStatusNotification:
        self.record("LogStatusNotification", kw)
        return r201.LogStatusNotification()

    @on(A201.firmware_status_notification)
    def firmware_status(self, **kw: Any) -> r201.FirmwareStatusNotification:
        self.record("FirmwareStatusNotification", kw)
        return r201.FirmwareStatusNotification()

    @on(A201.reservation_status_update)
    def reservation_status(self, **kw: Any) -> r201.ReservationStatusUpdate:
        self.record("ReservationStatusUpdate", kw)
        return r201.ReservationStatusUpdate()


Session = Csms16 | Csms201


class CsmsPeer:
    """A real CSMS on a local port. `url` is what to register as the backend URL."""

    def __init__(
        self,
        name: str = "csms",
        *,
        first_transaction_id: int = 1001,
        authorization: str = "Accepted",
    ) -> None:
        """`authorization` is what this CSMS answers to every id tag (e.g. "Blocked" to make a
        shadow disagree); its 1.6 transaction ids count up from `first_transaction_id`."""
        self.name = name
        self.authorization = authorization
        self.transaction_ids = itertools.count(first_transaction_id)
        # Cleared: meter values and transaction events are received (and recorded) but not
        # answered until it is set again, e.g. to kill a gateway process while CALLs are in flight.
        self.answering = asyncio.Event()
        self.answering.set()
        # Per charger: how many of its CALLs this CSMS holds unanswered right now.
        self.held: dict[str, int] = {}
        self.sessions: dict[str, Session] = {}
        # Everything each charger sent, across all its sessions (a session is one connection).
        self.history: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.connections: dict[str, RecordingConnection] = {}
        self.connects: dict[str, int] = {}
        self._changed = asyncio.Condition()
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def start(self, port: int = 0) -> CsmsPeer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            port,
            subprotocols=["ocpp2.0.1", "ocpp1.6"],  # type: ignore[list-item]
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_for(
        self, charger_id: str, timeout_s: float = 10.0, connects: int = 1
    ) -> Session:
        """The CSMS side of a charger once it has connected (at least `connects` times)."""

        def ready() -> bool:
            return self.connects.get(charger_id, 0) >= connects and charger_id in self.sessions

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(ready), timeout_s)
        return self.sessions[charger_id]

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else "/"
        charger_id = unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])
        conn = RecordingConnection(ws)
        cls = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        session = cls(charger_id, conn, response_timeout=30, logger=quiet)
        session.received = []
        session.peer = self
        async with self._changed:
            self.sessions[charger_id] = session
            self.connections[charger_id] = conn
            self.connects[charger_id] = self.connects.get(charger_id, 0) + 1
            self._changed.notify_all()
        try:
            await session.start()
        except Exception:  # the socket closed: normal end of a charger's session
            quiet.debug("session of %s ended", charger_id, exc_info=True)
