"""Edge-to-edge control messages on `sy.ctl.<charger>` (and `sy.ctl.edge.policies`).

Every edge replica subscribes once to `sy.ctl.>` and acts on messages about chargers it holds:

* `takeover`: a charger connected to another replica; a replica still holding an older socket
  for it closes that socket (newest connection wins across replicas).
* `credentials`: the charger's credentials were added, rotated or revoked (by any replica's
  API); every replica forgets what it cached; on `revoked` the holder closes the socket.
* `policies` (on `sy.ctl.edge.policies`): charger policies changed; every replica reloads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson

from sy_bus import subjects

# The one place the edge spells control subjects beyond sy_bus.subjects.control(charger).
CONTROL_ALL = f"{subjects.PREFIX}.ctl.>"
POLICIES = f"{subjects.PREFIX}.ctl.edge.policies"


@dataclass(frozen=True, slots=True)
class Control:
    kind: str  # takeover | credentials | policies
    charger_id: str = ""
    instance: str = ""
    connection_id: str = ""
    ts_ns: int = 0
    reason: str = ""
    v: int = 1

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> Control:
        doc = orjson.loads(data)
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})
