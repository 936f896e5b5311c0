"""Per-charger conformance state: message-id rules and the message-rate limit (sans-I/O).

* A CALL whose id is still queued or outstanding is refused: its answer could not be told from
  the first one's (OCPP-J 1.6 §4.1.4, 2.0.1 Part 4 §4.1.4: ids are unique per sender and
  connection). In strict mode ids of recently answered CALLs are refused too; lenient mode lets
  firmware that restarts its counters keep working.
* Every frame but an answer takes a token from the charger's bucket; with none left a CALL gets
  CALLERROR GenericError "rate limited" (the charger's own retry logic backs off) and other
  frames are dropped. A charger still sending after `burst` refusals in a row is disconnected
  (1008), because it is not listening to the CALLERRORs.
"""

from __future__ import annotations

from collections import OrderedDict

from sy_edge.ratelimit import TokenBucket

RECENT_IDS = 256


class CallIds:
    def __init__(self) -> None:
        self.open: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()

    def problem(self, message_id: str, *, strict: bool) -> str | None:
        if message_id in self.open:
            return f"message id {message_id!r} is already used by a CALL still being handled"
        if strict and message_id in self._recent:
            return f"message id {message_id!r} was already used on this connection"
        return None

    def opened(self, message_id: str) -> None:
        self.open.add(message_id)

    def done(self, message_id: str) -> None:
        self.open.discard(message_id)
        self._recent[message_id] = None
        self._recent.move_to_end(message_id)
        while len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)


class RateLimit:
    def __init__(self, rate: float, burst: int) -> None:
        self._bucket = TokenBucket(rate, burst)
        self.rate = rate
        self._burst = burst
        self._refused_in_a_row = 0

    def allow(self) -> bool:
        if self._bucket.take():
            self._refused_in_a_row = 0
            return True
        self._refused_in_a_row += 1
        return False

    @property
    def abusive(self) -> bool:
        return self._refused_in_a_row > self._burst
