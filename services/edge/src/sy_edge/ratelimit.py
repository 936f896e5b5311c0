"""Token buckets: the per-charger message-rate limit and handshake admission control."""

from __future__ import annotations

import math
import random
import time


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up. Not thread-safe (one event loop)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def deficit(self) -> float:
        """How many tokens are missing right now (0 when one is available)."""
        return max(0.0, 1.0 - self._tokens)


class Admission:
    """Handshake admission: a global bucket; when it is empty the charger gets HTTP 503 with a
    Retry-After that grows with recent refusals and is spread with random jitter, so a storm of
    reconnecting chargers comes back as a stream instead of a second wave."""

    def __init__(self, rate: float, burst: int, jitter_s: int) -> None:
        self._bucket = TokenBucket(rate, burst)
        self._rate = rate
        self._jitter_s = jitter_s
        self._refused_window: list[float] = []

    def admit(self) -> bool:
        return self._bucket.take()

    def retry_after(self) -> int:
        """Whole seconds (RFC 9110 §10.2.3): the backlog's drain time plus jitter, at least 1."""
        now = time.monotonic()
        self._refused_window = [t for t in self._refused_window if now - t < 1.0]
        self._refused_window.append(now)
        backlog_s = len(self._refused_window) / self._rate if self._rate > 0 else 1.0
        return max(1, math.ceil(backlog_s) + random.randint(0, self._jitter_s))
