"""What the handshake decided about a charger, handed to its session."""

from __future__ import annotations

from dataclasses import dataclass

from sy_edge.auth.gate import Verdict
from sy_edge.auth.policy import EffectivePolicy
from sy_quirks import BootInfo


@dataclass(frozen=True, slots=True)
class Admitted:
    verdict: Verdict
    policy: EffectivePolicy
    boot: BootInfo | None

    @property
    def how(self) -> str:
        """For presence and logs: e.g. 'password, security profile 2'."""
        if self.verdict.profile == 0:
            return "unauthenticated (allowed by policy)"
        return f"{self.verdict.reason}, security profile {self.verdict.profile}"
