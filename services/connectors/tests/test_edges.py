"""Which edge replicas are up, from their heartbeats (sans-I/O)."""

from __future__ import annotations

from sy_bus import EdgeAlive
from sy_connectors.edges import EdgeGone, EdgeWatch


def beat(instance: str, started_ns: int) -> EdgeAlive:
    return EdgeAlive(instance, started_ns, started_ns + 1, 0)


def test_the_first_heartbeat_lets_go_of_what_an_earlier_process_announced() -> None:
    watch = EdgeWatch(lost_after_s=20)
    assert watch.heard(beat("edge-a", 100), now=0.0) == EdgeGone("edge-a", 100, "restarted", 100)
    assert watch.heard(beat("edge-a", 100), now=5.0) is None  # the same process, still up
    assert watch.edges == {"edge-a": 100}


def test_a_restart_under_the_same_id_is_seen_and_a_late_beat_of_the_old_process_ignored() -> None:
    watch = EdgeWatch(lost_after_s=20)
    watch.heard(beat("edge-a", 100), now=0.0)
    assert watch.heard(beat("edge-a", 200), now=1.0) == EdgeGone("edge-a", 200, "restarted", 200)
    assert watch.heard(beat("edge-a", 100), now=1.1) is None
    assert watch.edges == {"edge-a": 200}


def test_a_replica_silent_for_too_long_is_gone_once() -> None:
    watch = EdgeWatch(lost_after_s=20)
    watch.heard(beat("edge-a", 100), now=0.0)
    watch.heard(beat("edge-b", 100), now=0.0)
    watch.heard(beat("edge-b", 100), now=15.0)
    assert watch.silent(now=19.0) == []
    assert watch.silent(now=20.5) == [EdgeGone("edge-a", None, "silent", 101)]
    assert watch.silent(now=21.0) == []  # forgotten: not declared gone again
    assert watch.edges == {"edge-b": 100}
    # heard again (it was only cut off from NATS): up; nothing it announced since its start goes
    assert watch.heard(beat("edge-a", 100), now=30.0) == EdgeGone("edge-a", 100, "restarted", 100)
