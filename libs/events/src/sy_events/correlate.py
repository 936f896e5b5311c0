"""Matching CALLs with their answers on every hop, and linking the charger side to the backends.

The one place that decides which frames belong to one exchange. Answers are matched to CALLs per
hop pair by message id: charger side (`from_charger` CALL <-> `to_charger` answer, and
`to_charger` CALL <-> `from_charger` answer) and per backend (`to_backend` CALL <->
`from_backend` answer, and the reverse). The two sides are linked without assuming equal message
ids (the connectors may rewrite them per backend): a backend-side CALL belongs to the oldest
exchange of the same connection and action that this backend has not seen yet. OCPP-J allows one
outstanding CALL per direction, so that order is unambiguous.

Sans-I/O: frames in, `Step`s out. State is bounded: exchanges older than `horizon_ns` are dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from sy_bus import FrameDirection, FrameRecord
from sy_events.text import NUL_ESCAPED, without_nul

CALL, CALLRESULT, CALLERROR = 2, 3, 4
HORIZON_NS = 300 * 1_000_000_000
LINK_WINDOW_NS = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Seen:
    """A captured frame with its stream sequence and its decoded OCPP-J array."""

    seq: int
    record: FrameRecord
    message: list[Any]

    @property
    def message_type(self) -> int | None:
        kind = self.message[0] if self.message else None
        return kind if type(kind) is int else None

    @property
    def message_id(self) -> str | None:
        mid = self.message[1] if len(self.message) > 1 else None
        return mid if isinstance(mid, str) else None

    @property
    def action(self) -> str | None:
        if self.message_type == CALL and len(self.message) > 2:
            action = self.message[2]
            return action if isinstance(action, str) else None
        return None

    @property
    def payload(self) -> dict[str, Any]:
        index = {CALL: 3, CALLRESULT: 2}.get(self.message_type or 0)
        value = self.message[index] if index is not None and len(self.message) > index else None
        return value if isinstance(value, dict) else {}

    @property
    def error_code(self) -> str | None:
        if self.message_type == CALLERROR and len(self.message) > 2:
            code = self.message[2]
            return code if isinstance(code, str) else None
        return None


def seen(seq: int, record: FrameRecord) -> Seen:
    """Decode a captured frame; the normalised text (after quirk rules) wins over the raw one.

    A NUL in the frame's strings (JSON can only carry it escaped) is escaped again, so nothing
    derived from the frame holds one (`sy_events.text`)."""
    text = record.normalized if record.normalized is not None else record.raw
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        message = []
    if NUL_ESCAPED in text and isinstance(message, list):
        try:
            message = without_nul(message)
        except RecursionError:  # nested nearly as deep as orjson allows: not OCPP anyway
            message = []
    return Seen(seq, record, message if isinstance(message, list) else [])


class Origin(StrEnum):
    CHARGER = "charger"
    BACKEND = "backend"


@dataclass(slots=True)
class Leg:
    """One backend's side of an exchange."""

    backend: str | None
    call: Seen | None = None
    answer: Seen | None = None


@dataclass(slots=True)
class Exchange:
    """A CALL and its answers across the gateway: the charger side and every backend leg."""

    origin: Origin
    action: str
    connection_id: str
    started_ns: int
    charger_call: Seen | None = None
    charger_answer: Seen | None = None
    legs: dict[str | None, Leg] = field(default_factory=dict)
    # What the normaliser attached when it saw the CALL (e.g. the gateway transaction id).
    context: dict[str, Any] = field(default_factory=dict)

    def frames(self) -> list[Seen]:
        out = [f for f in (self.charger_call, self.charger_answer) if f is not None]
        for leg in self.legs.values():
            out += [f for f in (leg.call, leg.answer) if f is not None]
        return sorted(out, key=lambda f: (f.record.ts_ns, f.seq))


class StepKind(StrEnum):
    CHARGER_CALL = "charger_call"  # from_charger CALL: a new charger-originated exchange
    CHARGER_ANSWERED = "charger_answered"  # to_charger answer to it
    BACKEND_CALL = "backend_call"  # from_backend CALL: a new backend-originated exchange
    COMMAND_ANSWERED = "command_answered"  # from_charger answer to a backend's CALL
    LEG_CALL = "leg_call"  # to_backend CALL linked to a charger-originated exchange
    LEG_ANSWERED = "leg_answered"  # from_backend answer on a leg
    UNMATCHED = "unmatched"  # an answer with no CALL (journal restarted, or dropped by design)
    OTHER = "other"  # not an OCPP-J CALL or answer


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    frame: Seen
    exchange: Exchange | None = None
    leg: Leg | None = None
    adopted: tuple[Leg, ...] = ()  # parked backend legs this CALL turned out to own


class Correlator:
    """Per charger. Feed frames in capture order (ts_ns, then stream sequence)."""

    def __init__(self, horizon_ns: int = HORIZON_NS) -> None:
        self._horizon = horizon_ns
        # charger side: (direction of the CALL, connection, message id) -> exchange
        self._charger_pending: dict[tuple[str, str, str], Exchange] = {}
        # backend side: (direction of the CALL, backend, message id) -> (exchange, leg)
        self._backend_pending: dict[tuple[str, str | None, str], tuple[Exchange, Leg]] = {}
        # exchanges waiting for the other side's CALL, oldest first, per (origin, action)
        self._unlinked: dict[tuple[Origin, str], deque[Exchange]] = {}
        self._recent: deque[Exchange] = deque()
        # Backend-side CALLs seen before their charger-side CALL. Edge and connectors publish
        # to the stream independently, so the stream order may differ from the capture order.
        self._parked: deque[Exchange] = deque()

    def feed(self, frame: Seen) -> Step:
        self._expire(frame.record.ts_ns)
        kind, mid = frame.message_type, frame.message_id
        if kind is None or mid is None:
            return Step(StepKind.OTHER, frame)
        direction = frame.record.direction
        if kind == CALL:
            return self._call(frame, direction, mid)
        if kind in (CALLRESULT, CALLERROR):
            return self._answer(frame, direction, mid)
        return Step(StepKind.OTHER, frame)

    def _call(self, frame: Seen, direction: FrameDirection, mid: str) -> Step:
        rec, action = frame.record, frame.action or ""
        if direction is FrameDirection.FROM_CHARGER:
            ex = Exchange(Origin.CHARGER, action, rec.connection_id, rec.ts_ns, charger_call=frame)
            self._charger_pending[(direction, rec.connection_id, mid)] = ex
            self._remember(ex)
            return Step(StepKind.CHARGER_CALL, frame, ex, adopted=self._adopt(ex))
        if direction is FrameDirection.FROM_BACKEND:
            ex = Exchange(Origin.BACKEND, action, rec.connection_id, rec.ts_ns)
            leg = Leg(rec.backend, call=frame)
            ex.legs[rec.backend] = leg
            self._backend_pending[(direction, rec.backend, mid)] = (ex, leg)
            self._remember(ex)
            return Step(StepKind.BACKEND_CALL, frame, ex, leg)
        if direction is FrameDirection.TO_BACKEND:
            found = self._link(Origin.CHARGER, action, rec, lambda e: rec.backend not in e.legs)
            if found is None:
                parked = Exchange(Origin.CHARGER, action, rec.connection_id, rec.ts_ns)
                leg = Leg(rec.backend, call=frame)
                parked.legs[rec.backend] = leg
                self._parked.append(parked)
                self._backend_pending[(direction, rec.backend, mid)] = (parked, leg)
                return Step(StepKind.UNMATCHED, frame, parked, leg)
            leg = Leg(rec.backend, call=frame)
            found.legs[rec.backend] = leg
            self._backend_pending[(direction, rec.backend, mid)] = (found, leg)
            return Step(StepKind.LEG_CALL, frame, found, leg)
        # TO_CHARGER: a backend's CALL delivered to the charger
        found = self._link(Origin.BACKEND, action, rec, lambda e: e.charger_call is None)
        if found is None:
            found = Exchange(Origin.BACKEND, action, rec.connection_id, rec.ts_ns)
            self._remember(found)
        found.charger_call = frame
        self._charger_pending[(direction, rec.connection_id, mid)] = found
        return Step(StepKind.OTHER, frame, found)

    def _answer(self, frame: Seen, direction: FrameDirection, mid: str) -> Step:
        rec = frame.record
        if direction in (FrameDirection.TO_CHARGER, FrameDirection.FROM_CHARGER):
            call_dir = (
                FrameDirection.FROM_CHARGER
                if direction is FrameDirection.TO_CHARGER
                else FrameDirection.TO_CHARGER
            )
            ex = self._charger_pending.pop((call_dir, rec.connection_id, mid), None)
            if ex is None:
                return Step(StepKind.UNMATCHED, frame)
            ex.charger_answer = frame
            kind = (
                StepKind.CHARGER_ANSWERED
                if direction is FrameDirection.TO_CHARGER
                else StepKind.COMMAND_ANSWERED
            )
            return Step(kind, frame, ex)
        call_dir = (
            FrameDirection.TO_BACKEND
            if direction is FrameDirection.FROM_BACKEND
            else FrameDirection.FROM_BACKEND
        )
        pair = self._backend_pending.pop((call_dir, rec.backend, mid), None)
        if pair is None:
            return Step(StepKind.UNMATCHED, frame)
        ex, leg = pair
        leg.answer = frame
        kind = StepKind.LEG_ANSWERED if direction is FrameDirection.FROM_BACKEND else StepKind.OTHER
        return Step(kind, frame, ex, leg)

    def _link(self, origin: Origin, action: str, rec: FrameRecord, wants: Any) -> Exchange | None:
        """The oldest exchange of this connection and action still waiting for this side.

        An exchange whose charger side finished more than LINK_WINDOW_NS ago is not a candidate:
        a backend added to the route later must not be linked to CALLs from before it.
        """
        for ex in self._unlinked.get((origin, action), ()):
            if ex.connection_id != rec.connection_id or ex.started_ns > rec.ts_ns:
                continue
            done = ex.charger_answer
            if done is not None and rec.ts_ns - done.record.ts_ns > LINK_WINDOW_NS:
                continue
            if origin is Origin.BACKEND and rec.ts_ns - ex.started_ns > LINK_WINDOW_NS:
                continue
            if wants(ex):
                return ex
        return None

    def _adopt(self, ex: Exchange) -> tuple[Leg, ...]:
        """Move parked legs of this connection and action, captured after `ex`, into it."""
        adopted: list[Leg] = []
        for parked in list(self._parked):
            if (
                parked.connection_id == ex.connection_id
                and parked.action == ex.action
                and 0 <= parked.started_ns - ex.started_ns <= LINK_WINDOW_NS
            ):
                for backend, leg in parked.legs.items():
                    if backend in ex.legs:
                        continue
                    ex.legs[backend] = leg
                    adopted.append(leg)
                    for key, (owner, owned) in list(self._backend_pending.items()):
                        if owner is parked and owned is leg:
                            self._backend_pending[key] = (ex, leg)
                self._parked.remove(parked)
        return tuple(adopted)

    def _remember(self, ex: Exchange) -> None:
        self._unlinked.setdefault((ex.origin, ex.action), deque()).append(ex)
        self._recent.append(ex)

    def _expire(self, now_ns: int) -> None:
        while self._parked and now_ns - self._parked[0].started_ns > LINK_WINDOW_NS:
            self._parked.popleft()
        while self._recent and now_ns - self._recent[0].started_ns > self._horizon:
            old = self._recent.popleft()
            queue = self._unlinked.get((old.origin, old.action))
            if queue and queue[0] is old:
                queue.popleft()
            elif queue and old in queue:
                queue.remove(old)
        if len(self._charger_pending) + len(self._backend_pending) > 1024:
            cutoff = now_ns - self._horizon
            self._charger_pending = {
                k: v for k, v in self._charger_pending.items() if v.started_ns >= cutoff
            }
            self._backend_pending = {
                k: v for k, v in self._backend_pending.items() if v[0].started_ns >= cutoff
            }
