"""Which edge replicas are up, from their heartbeats (`sy.edges.alive.<instance>`).

An edge that crashes, or whose node is lost, publishes no "disconnected" for its chargers: the
connectors would keep their upstreams open for ever, and the backends would show chargers online
that are gone. Each edge replica announces itself every few seconds with the time its process
started. A replica is declared gone when
* it restarted under the same id: a heartbeat with a later start time (or the first one heard).
  Its chargers announced before that start are gone (those back on it announce themselves
  again, later);
* it fell silent for `lost_after_s`. Only replicas heard at least once count: an edge of an older
  version (no heartbeat) during a rolling upgrade is never declared gone.

Sans-I/O core (`EdgeWatch.heard`, `EdgeWatch.silent`) with the time passed in; `Relay` wires it
to NATS and a timer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sy_bus import EdgeAlive


@dataclass(frozen=True, slots=True)
class EdgeGone:
    """Chargers announced by `instance` before `before_ns` are gone (None: all of them); `at_ns`
    is the latest the replica is known to have held them (its restart, or its last heartbeat)."""

    instance: str
    before_ns: int | None
    why: str  # "restarted" or "silent"
    at_ns: int = 0


class EdgeWatch:
    def __init__(self, lost_after_s: float) -> None:
        self.lost_after_s = lost_after_s
        # instance -> (process start, when last heard here (monotonic), its last beat's ts_ns)
        self._edges: dict[str, tuple[int, float, int]] = {}

    @property
    def edges(self) -> dict[str, int]:
        """Replicas up: instance -> its process start (ns)."""
        return {instance: started for instance, (started, _, _) in self._edges.items()}

    def heard(self, beat: EdgeAlive, now: float) -> EdgeGone | None:
        known = self._edges.get(beat.instance)
        if known is not None and beat.started_ns < known[0]:
            return None  # a late heartbeat of the process that was replaced
        self._edges[beat.instance] = (beat.started_ns, now, beat.ts_ns)
        if known is None or beat.started_ns > known[0]:
            # Whatever it announced before this process started was announced by an earlier
            # one (also when this replica of the connectors only now hears of it).
            return EdgeGone(beat.instance, beat.started_ns, "restarted", beat.started_ns)
        return None

    def silent(self, now: float) -> list[EdgeGone]:
        gone = [
            EdgeGone(instance, None, "silent", last_ts)
            for instance, (_, heard, last_ts) in self._edges.items()
            if now - heard > self.lost_after_s
        ]
        for edge in gone:
            del self._edges[edge.instance]
        return gone
