"""Handshake admission: how fast this edge replica lets chargers in during a reconnect storm.

Chargers are admitted at `rate` per second with up to `burst` at once (a generic cell rate
algorithm: `_tat` is the time at which the next charger would conform to the rate). A charger
that does not conform is not simply told "later": it is given a **slot**, the next free one in
arrival order, and HTTP 503 with `Retry-After` (RFC 9110 §10.2.3) = the whole seconds until that
slot. The slot is reserved for it: when it comes back at (or after) its slot, it is admitted
without competing with newcomers, and newcomers queue behind the slots already given out. So a
storm of N chargers drains in about (N - burst) / rate seconds, each refused charger is refused
once, and the replica never idles while chargers wait, as it did when every refused charger was
told the same long back-off.

A charger that comes back before its slot (firmware that ignores Retry-After) is told the time
left and keeps its place. A slot is kept `hold_s` past its time, then forgotten. No slot is given
beyond `horizon_s` ahead (a flood of handshakes with made-up charger ids cannot push real
chargers hours out): those get `horizon_s` plus random jitter and no reservation.

Sans-I/O: every method takes the time (`time.monotonic()` seconds) from the caller.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict

HOLD_S = 30.0
HORIZON_S = 120.0
EARLY_S = 0.5  # a charger's timer may fire a little before the whole seconds it was told


class Admission:
    def __init__(
        self,
        rate: float,
        burst: int,
        jitter_s: int,
        *,
        hold_s: float = HOLD_S,
        horizon_s: float = HORIZON_S,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("handshake admission needs a rate > 0 and a burst >= 1")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval  # how far _tat may run ahead of now
        self._tat = 0.0
        self._jitter_s = jitter_s
        self._hold_s = hold_s
        self._horizon_s = horizon_s
        # charger id -> its slot; slots are handed out in increasing order, so the oldest is first
        self._slots: OrderedDict[str, float] = OrderedDict()

    @property
    def waiting(self) -> int:
        """Chargers holding a slot (told to come back)."""
        return len(self._slots)

    def admit(self, charger_id: str, now: float) -> int | None:
        """None: let the charger in. Otherwise the Retry-After seconds (≥ 1) to answer with."""
        self._forget_expired(now)
        slot = self._slots.get(charger_id)
        if slot is not None:
            if now >= slot - EARLY_S:
                del self._slots[charger_id]  # its capacity was counted when the slot was given
                return None
            return _whole_seconds(slot - now)
        if now >= self._tat - self._tolerance:
            self._tat = max(self._tat, now) + self._interval
            return None
        slot = self._tat - self._tolerance
        if slot - now > self._horizon_s:
            return self.retry_later(now)
        self._tat += self._interval
        self._slots[charger_id] = slot
        return _whole_seconds(slot - now)

    def retry_later(self, now: float) -> int:
        """Retry-After without a slot (draining, a failed credential lookup, a full queue):
        when the queue of slots would be through, plus up to `jitter_s` at random."""
        queued = min(self._horizon_s, max(0.0, self._tat - self._tolerance - now))
        return _whole_seconds(queued) + random.randint(0, self._jitter_s)

    def _forget_expired(self, now: float) -> None:
        slots = self._slots
        while slots:
            charger_id, slot = next(iter(slots.items()))
            if slot + self._hold_s > now:
                return
            del slots[charger_id]


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))
