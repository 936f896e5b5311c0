"""One charger's WebSocket on this edge replica: frames in, CALLs to the bus, backend CALLs out.

Reading never waits on the bus: a charger CALL goes to the `up` lane, a backend CALL to the
`down` lane, each running one CALL at a time (invariant 2), while the reader keeps taking the
charger's answers. Every frame is captured to JetStream by the frame publisher (invariant 4).

Charger frames go through, in order: the rate limit, decoding (with the charger's json-repair
quirk rules when the text does not parse), the charger's quirk rules, the message-id rules and
schema validation (strict: CALLERROR, lenient: logged and forwarded). The captured record keeps
the frame as received (`raw`) and, when rules changed it, what was forwarded (`normalized`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from opentelemetry import trace
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from sy_bus import FrameDirection, Header, Presence, subjects
from sy_calls import Lane, LaneClosed, PendingCalls
from sy_codec import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    ErrorKind,
    FrameError,
    Message,
    OcppVersion,
    decode,
    encode,
    error_code,
    peek_message_type,
    validate_call,
)
from sy_edge import metrics
from sy_edge.admitted import Admitted
from sy_edge.context import EdgeContext
from sy_edge.control import Control
from sy_edge.intake import CallIds, RateLimit
from sy_edge.recorder import Opened
from sy_events.models import ChargerConnected, ChargerDisconnected, to_json
from sy_events.subjects import subject_for
from sy_platform.logs import charger_id_var
from sy_platform.telemetry import inject_headers, span
from sy_quirks import BootInfo

log = logging.getLogger(__name__)
NULL_PAYLOAD_RULE = "edge/null-payload"
tracer = trace.get_tracer("sy_edge")
# Counted on every frame: the labelled children once, not a `labels()` lookup per frame.
_FRAMES_FROM_CHARGER = metrics.FRAMES.labels("from_charger")
_FRAMES_TO_CHARGER = metrics.FRAMES.labels("to_charger")


class ChargerSession:
    def __init__(
        self,
        ws: ServerConnection,
        charger_id: str,
        version: OcppVersion,
        ctx: EdgeContext,
        admitted: Admitted,
    ) -> None:
        self.ws = ws
        self.charger_id = charger_id
        self.version = version
        self.ctx = ctx
        self.admitted = admitted
        self.connection_id = uuid.uuid4().hex
        self.connected_at = time.time()
        self.connected_ns = time.time_ns()
        self.strict = admitted.policy.validation == "strict"
        self.boot = admitted.boot
        self.quirks = ctx.quirks.select(self.boot, admitted.policy.quirk_profiles)
        self.leave_reason = ""  # why the edge closed the socket, for presence
        self._log = {"charger_id": charger_id}
        self._pending = PendingCalls()
        self._ids = CallIds()
        self._rate = RateLimit(ctx.settings.rate_limit_per_s, ctx.settings.rate_limit_burst)
        self._down_actions: dict[str, str] = {}
        # Eager lanes: a CALL to an idle lane is sent on within the frame's (or the bus
        # message's) own turn of the event loop, not on the next one.
        self._up: Lane[tuple[Call, str]] = Lane(
            f"up:{charger_id}", self._relay_up, on_drop=lambda _: None, eager=True
        )
        self._down: Lane[Msg] = Lane(
            f"down:{charger_id}",
            self._relay_down,
            max_queued=ctx.settings.max_queued_calls,
            on_drop=self._refuse_down,
            eager=True,
        )
        self._background: set[asyncio.Future[object]] = set()

    @property
    def remote(self) -> str:
        addr = self.ws.remote_address
        return f"{addr[0]}:{addr[1]}" if addr else "unknown"

    async def run(self) -> None:
        charger_id_var.set(self.charger_id)
        await self._attach()
        try:
            async for message in self.ws:
                self._on_frame(message)
        except ConnectionClosed:
            pass
        finally:
            await self._detach()

    def close(self, code: int, reason: str, why: str) -> None:
        """Close the socket from the edge's side (takeover, drain, revocation, abuse)."""
        self.leave_reason = why
        self._spawn(self.ws.close(code, reason))

    # -- frames from the charger -------------------------------------------------------------

    def _on_frame(self, message: str | bytes) -> None:
        ts = time.time_ns()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        _FRAMES_FROM_CHARGER.inc()
        rules: list[str] = []
        try:
            msg: Message = decode(message, self.version)
        except FrameError as err:
            repaired = self._repair(text, err)
            if repaired is None:
                self._refuse_frame(text, ts, err)
                return
            msg, rules = repaired
        if isinstance(msg, Call):
            self._on_call(msg, text, ts, rules)
        elif isinstance(msg, CallResult | CallError | CallResultError):
            self._on_answer(msg, text, ts, rules)
        else:  # OCPP 2.1 SEND: nothing to answer; relaying it to backends comes later
            self._capture(FrameDirection.FROM_CHARGER, text, ts, msg.message_id, msg.action)
            log.info("SEND %s from charger recorded", msg.action, extra=self._log)

    def _repair(self, text: str, err: FrameError) -> tuple[Message, list[str]] | None:
        if err.kind is not ErrorKind.FORMAT or not self.quirks or err.message_id is not None:
            return None
        fixed, rules = self.quirks.repair_json(text)
        if not rules:
            return None
        try:
            return decode(fixed, self.version), rules
        except FrameError:
            return None

    def _refuse_frame(self, text: str, ts: int, err: FrameError) -> None:
        self._capture(FrameDirection.FROM_CHARGER, text, ts)
        if not err.answerable:
            metrics.DROPPED.labels("malformed_answer").inc()
            log.warning("malformed answer dropped: %s", err.description, extra=self._log)
            return
        if not self._within_rate():
            return
        log.warning("malformed frame from charger: %s", err.description, extra=self._log)
        self._answer_locally(err.to_call_error(self.version))

    def _on_call(self, call: Call, text: str, ts: int, rules: list[str]) -> None:
        if not self._within_rate():
            self._capture(FrameDirection.FROM_CHARGER, text, ts, call.message_id, call.action)
            if not self._rate.abusive:
                description = f"rate limited: at most {self._rate.rate:g} CALLs per second"
                self._answer_locally(
                    CallError(
                        call.message_id, error_code(ErrorKind.GENERIC, self.version), description
                    )
                )
            return
        if call.action == "BootNotification":
            self._on_boot(call.payload)
        if self.quirks:
            rules += self.quirks.normalize(
                call.payload, action=call.action, version=self.version.value
            )
        if not call.payload and text.rstrip().endswith("null]"):
            # OCPP-J allows null for "no payload" (1.6 §4.2.1, 2.0.1 Part 4 §4.1.5), backends
            # built on common libraries do not: forward the recommended {}.
            rules.append(NULL_PAYLOAD_RULE)
        forwarded = encode(call) if rules else text
        refusal = self._refusal(call)
        if refusal is None:
            self._ids.opened(call.message_id)
            try:
                # An idle lane sends the CALL on before `submit` returns (eager); the frame is
                # captured right after (the capture worker makes its record later), and when
                # the CALL is queued or refused just the same (invariant 4).
                self._up.submit((call, forwarded))
            finally:
                self._capture(
                    FrameDirection.FROM_CHARGER,
                    text,
                    ts,
                    call.message_id,
                    call.action,
                    forwarded,
                    rules,
                )
            return
        self._capture(
            FrameDirection.FROM_CHARGER, text, ts, call.message_id, call.action, forwarded, rules
        )
        self._answer_locally(refusal)

    def _refusal(self, call: Call) -> CallError | None:
        """The CALLERROR the edge answers itself instead of forwarding `call`, if any."""
        problem = self._ids.problem(call.message_id, strict=self.strict)
        if problem is not None:
            log.warning("refused CALL %s: %s", call.action, problem, extra=self._log)
            return FrameError(
                ErrorKind.RPC_FRAMEWORK, problem, message_id=call.message_id
            ).to_call_error(self.version)
        try:
            validate_call(call, self.version)
        except FrameError as err:
            if self.strict:
                log.warning(
                    "invalid %s from charger: %s", call.action, err.description, extra=self._log
                )
                return err.to_call_error(self.version)
            metrics.LENIENT.labels(err.kind.value).inc()
            log.warning(
                "invalid %s from charger forwarded (lenient): %s",
                call.action,
                err.description,
                extra=self._log,
            )
        return None

    def _on_answer(
        self, msg: CallResult | CallError | CallResultError, text: str, ts: int, rules: list[str]
    ) -> None:
        action = self._down_actions.get(msg.message_id)
        if isinstance(msg, CallResult) and action and self.quirks:
            rules += self.quirks.normalize(
                msg.payload, action=action, version=self.version.value, message="result"
            )
        forwarded = encode(msg) if rules else text
        self._capture(FrameDirection.FROM_CHARGER, text, ts, msg.message_id, None, forwarded, rules)
        if not self._pending.resolve(msg.message_id, forwarded):
            metrics.DROPPED.labels("unknown_message_id").inc()
            log.warning(
                "answer with unknown message id %r dropped", msg.message_id, extra=self._log
            )

    def _within_rate(self) -> bool:
        if self._rate.allow():
            return True
        metrics.RATE_LIMITED.inc()
        if self._rate.abusive and not self.leave_reason:
            log.warning("charger ignores rate limiting; disconnecting", extra=self._log)
            self.close(1008, "message rate limit exceeded", "rate limit exceeded")
        return False

    def _on_boot(self, payload: dict[str, Any]) -> None:
        boot = BootInfo.from_boot(payload, self.version.value)
        if boot is None or boot == self.boot:
            return
        self.boot = boot
        self.quirks = self.ctx.quirks.select(boot, self.admitted.policy.quirk_profiles)
        self.ctx.access.boot_seen(self.charger_id, boot, self.version.value)
        if self.quirks:
            log.info("quirk profiles %s", ",".join(self.quirks.profiles), extra=self._log)

    # -- charger CALL -> bus -> backend answer -------------------------------------------------

    async def _relay_up(self, item: tuple[Call, str]) -> None:
        call, text = item
        try:
            await self._relay_up_call(call, text)
        finally:
            self._ids.done(call.message_id)

    async def _relay_up_call(self, call: Call, text: str) -> None:
        started = time.perf_counter()
        headers = {
            Header.CHARGER: self.charger_id,
            Header.OCPP: self.version.value,
            Header.MESSAGE_ID: call.message_id,
            Header.ACTION: call.action,
            Header.INSTANCE: self.ctx.instance,
            Header.CONNECTION: self.connection_id,
        }
        with span(
            tracer,
            f"charger {call.action}",
            attributes={"ocpp.charger_id": self.charger_id, "ocpp.message_id": call.message_id},
        ):
            inject_headers(headers)
            try:
                reply = await self.ctx.upstream.request(
                    self.charger_id,
                    text.encode(),
                    headers,
                    self.ctx.settings.call_timeout_s,
                )
                answer = reply.decode()
            except NoRespondersError:
                answer = self._error(call.message_id, ErrorKind.INTERNAL, "no connector is running")
            except NatsTimeout:
                answer = self._error(
                    call.message_id,
                    ErrorKind.INTERNAL,
                    f"backend did not answer within {self.ctx.settings.call_timeout_s:g}s",
                )
        elapsed = time.perf_counter() - started
        try:
            await self._send(answer, call.message_id)
        finally:
            metrics.CALL_SECONDS.observe(elapsed)  # once the answer is on its way

    # -- backend CALL (from the bus) -> charger --------------------------------------------------

    async def _on_down(self, msg: Msg) -> None:
        try:
            self._down.submit(msg)
        except (asyncio.QueueFull, LaneClosed):
            self._refuse_down(msg)

    async def _relay_down(self, msg: Msg) -> None:
        text = msg.data.decode()
        try:
            call = decode(text, self.version)
        except FrameError as err:
            await msg.respond(encode(err.to_call_error(self.version)).encode())
            return
        if not isinstance(call, Call):
            await msg.respond(
                self._error("-1", ErrorKind.PROTOCOL, "only CALLs go to a charger").encode()
            )
            return
        try:
            waiting = self._pending.expect(call.message_id)
        except ValueError:
            await msg.respond(
                self._error(
                    call.message_id, ErrorKind.PROTOCOL, "message id already in use"
                ).encode()
            )
            return
        self._down_actions[call.message_id] = call.action
        try:
            answer = await self._deliver_down(call, text, waiting)
        finally:  # answered, failed or cancelled: the id is free again
            self._down_actions.pop(call.message_id, None)
            self._pending.forget(call.message_id, waiting)
        await msg.respond(answer.encode())

    async def _deliver_down(self, call: Call, text: str, waiting: asyncio.Future[str]) -> str:
        """Send a backend CALL to the charger; its answer, or the CALLERROR saying why none."""
        try:
            rules: list[str] = []
            if self.quirks:
                rules = self.quirks.normalize(
                    call.payload,
                    action=call.action,
                    version=self.version.value,
                    direction="to_charger",
                )
            sent = encode(call) if rules else text
            delivered = await self._send(
                sent, call.message_id, action=call.action, raw=text, rules=rules
            )
        except Exception:
            log.exception("backend CALL %s not sent to the charger", call.action, extra=self._log)
            return self._error(call.message_id, ErrorKind.INTERNAL, "CALL not sent to the charger")
        if not delivered:
            return self._error(call.message_id, ErrorKind.INTERNAL, "charger disconnected")
        timeout = self.ctx.settings.charger_call_timeout_s
        try:
            return await self._pending.wait(call.message_id, waiting, timeout)
        except TimeoutError:
            return self._error(
                call.message_id, ErrorKind.INTERNAL, f"charger did not answer within {timeout:g}s"
            )
        except ConnectionError:
            return self._error(call.message_id, ErrorKind.INTERNAL, "charger disconnected")

    def _refuse_down(self, msg: Msg) -> None:
        """A backend CALL that will not reach the charger still gets an answer, at once."""
        message_id = msg.headers.get(Header.MESSAGE_ID, "-1") if msg.headers else "-1"
        answer = self._error(message_id, ErrorKind.INTERNAL, "charger busy or disconnected")
        self._spawn(msg.respond(answer.encode()))

    # -- plumbing ----------------------------------------------------------------------------------

    def _error(self, message_id: str, kind: ErrorKind, description: str) -> str:
        code = error_code(kind, self.version)
        metrics.CALL_ERRORS.labels(code).inc()
        return encode(CallError(message_id, code, description, {}))

    def _answer_locally(self, error: CallError) -> None:
        metrics.CALL_ERRORS.labels(error.error_code).inc()
        self._spawn(self._send(encode(error), error.message_id))

    async def _send(
        self,
        text: str,
        message_id: str,
        action: str | None = None,
        *,
        raw: str | None = None,
        rules: list[str] | None = None,
    ) -> bool:
        """Send a frame to the charger and capture it; False when the socket was closed."""
        ts = time.time_ns()
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            log.info("charger gone before frame %s was sent", message_id, extra=self._log)
            return False
        _FRAMES_TO_CHARGER.inc()
        if rules:
            self._capture(
                FrameDirection.TO_CHARGER, raw or text, ts, message_id, action, text, rules
            )
        else:
            self._capture(FrameDirection.TO_CHARGER, text, ts, message_id, action)
        return True

    def _capture(
        self,
        direction: FrameDirection,
        text: str,
        ts: int,
        message_id: str | None = None,
        action: str | None = None,
        normalized: str | None = None,
        rules: list[str] | None = None,
    ) -> None:
        if rules:
            self.ctx.count_rules(self.charger_id, rules)
        # The record's fields (`sy_bus.FrameFields`): the capture worker makes the record.
        self.ctx.frames.capture(
            (
                self.charger_id,
                direction,
                ts,
                self.version.value,
                text,
                peek_message_type(text),
                message_id,
                action,
                None,  # backend
                self.ctx.instance,
                self.connection_id,
                normalized if rules else None,
                list(rules) if rules else [],
            )
        )

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _attach(self) -> None:
        previous = self.ctx.sessions.get(self.charger_id)
        self.ctx.sessions[self.charger_id] = self
        if previous is not None:  # newest connection wins
            log.info("charger reconnected; closing its previous socket", extra=self._log)
            previous.close(1000, "replaced by a newer connection", "replaced by a newer connection")
        self._down_sub = await self.ctx.nc.subscribe(
            subjects.down(self.charger_id), cb=self._on_down
        )
        # Any other replica still holding an older socket of this charger closes it.
        takeover = Control(
            "takeover", self.charger_id, self.ctx.instance, self.connection_id, self.connected_ns
        )
        try:
            await self.ctx.nc.publish(subjects.control(self.charger_id), takeover.to_bytes())
        except Exception as exc:
            log.warning("takeover not published: %s", exc, extra=self._log)
        await self._announce(connected=True, reason=self.admitted.how)
        self.ctx.recorder.opened(
            Opened(
                self.connection_id,
                self.charger_id,
                self.ctx.instance,
                self.version.value,
                self.remote,
                _utcnow(),
            )
        )
        metrics.CONNECTED.inc()
        metrics.CONNECTS.labels(self.version.value).inc()
        log.info(
            "charger connected (%s) from %s: %s",
            self.version.value,
            self.remote,
            self.admitted.how,
            extra=self._log,
        )

    async def _detach(self) -> None:
        metrics.CONNECTED.dec()
        if self.ctx.sessions.get(self.charger_id) is self:
            del self.ctx.sessions[self.charger_id]
        try:
            await self._down_sub.unsubscribe()
        except Exception:  # the NATS connection may already be closing
            log.debug("unsubscribe failed", exc_info=True, extra=self._log)
        self._pending.fail_all("charger disconnected")
        await self._down.close()
        await self._up.close()
        code, reason = self.ws.close_code, self.ws.close_reason or ""
        why = self.leave_reason or f"{code} {reason}".strip()
        await self._announce(connected=False, reason=why)
        self.ctx.recorder.closed(self.connection_id, self.charger_id, code, why)
        log.info("charger disconnected (%s %s): %s", code, reason, why, extra=self._log)

    async def _announce(self, *, connected: bool, reason: str = "") -> None:
        record = Presence(
            charger_id=self.charger_id,
            connected=connected,
            instance=self.ctx.instance,
            connection_id=self.connection_id,
            ocpp=self.version.value,
            ts_ns=time.time_ns(),
            reason=reason,
        )
        key = subjects.charger_token(self.charger_id)
        try:
            await self.ctx.nc.publish(subjects.presence(self.charger_id), record.to_bytes())
            if connected:
                await self.ctx.presence.put(key, record.to_bytes())
            else:
                entry = await self.ctx.presence.get(key)
                if (
                    entry.value
                    and Presence.from_bytes(entry.value).connection_id == self.connection_id
                ):
                    await self.ctx.presence.delete(key, last=entry.revision)
        except Exception as exc:  # presence is advisory; the socket matters more
            log.warning("presence update failed: %s", exc, extra=self._log)
        await self._publish_event(connected, reason)

    async def _publish_event(self, connected: bool, reason: str) -> None:
        """The canonical connected/disconnected event, for the journal's availability and
        reconnect metrics and for downstream subscribers (docs/events.md)."""
        common = {
            "event_id": f"{'c' if connected else 'd'}-{self.connection_id}",
            "charger_id": self.charger_id,
            "ts": _utcnow(),
            "ocpp": self.version.value,
            "connection_id": self.connection_id,
            "instance": self.ctx.instance,
        }
        event: ChargerConnected | ChargerDisconnected
        if connected:
            event = ChargerConnected(**common, security_profile=self.admitted.verdict.profile)
        else:
            code = self.ws.close_code
            event = ChargerDisconnected(**common, reason=reason or "closed", close_code=code)
        try:
            await self.ctx.nc.jetstream().publish(
                subject_for(event), to_json(event), headers={Header.DEDUP: event.event_id}
            )
        except Exception as exc:  # the event is lost, the charger is not: say so
            log.warning("connection event not published: %r", exc, extra=self._log)


def _utcnow() -> datetime:
    return datetime.now(UTC)
