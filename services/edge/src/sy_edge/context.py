"""What every charger session on this replica shares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nats.aio.client import Client
from nats.js.kv import KeyValue

from sy_bus import FramePublisher
from sy_edge import metrics
from sy_edge.auth.store import AccessStore
from sy_edge.recorder import ConnectionRecorder
from sy_edge.settings import EdgeSettings
from sy_quirks import QuirkBook

if TYPE_CHECKING:
    from sy_edge.session import ChargerSession
    from sy_edge.upstream import UpstreamCalls


@dataclass
class EdgeContext:
    settings: EdgeSettings
    nc: Client
    frames: FramePublisher
    presence: KeyValue
    recorder: ConnectionRecorder
    access: AccessStore
    quirks: QuirkBook
    upstream: UpstreamCalls
    sessions: dict[str, ChargerSession] = field(default_factory=dict)
    # Applied quirk rules per charger on this replica (the metric has no charger label).
    quirk_counts: dict[str, Counter[str]] = field(default_factory=dict)
    draining: bool = False

    @property
    def instance(self) -> str:
        return self.settings.instance_id

    def count_rules(self, charger_id: str, rules: Iterable[str]) -> None:
        counts = self.quirk_counts.setdefault(charger_id, Counter())
        for rule in rules:
            counts[rule] += 1
            metrics.QUIRK_RULES.labels(rule).inc()
