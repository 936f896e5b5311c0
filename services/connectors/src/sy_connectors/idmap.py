"""Ids that several backends choose for one charger, and the id the charger sees (sans-I/O).

Backends pick reservation ids, charging-profile ids, remote-start ids and request ids on their
own, so two backends of one charger (primary, shadow, an old primary kept for its transactions)
can pick the same number. The charger would then replace one backend's reservation or profile
with the other's (1.6 §5.13 ReserveNow, §5.16 SetChargingProfile) and its reports could not tell
whose request they answer. So the gateway assigns the charger-facing id per kind and remembers
(kind, charger id) -> (backend, the backend's id).

The first backend to use a number gets it unchanged (with one backend nothing is rewritten, and a
lost map degrades to pass-through); a backend whose number is already taken by another backend
gets a gateway id from `GATEWAY_IDS`, a range far above what backends count up to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


class IdKind(StrEnum):
    """Each kind is its own number space on the charger."""

    RESERVATION = "reservation"
    PROFILE = "profile"  # charging profiles
    REMOTE_START = "remote_start"  # 2.0.1 remoteStartId
    REQUEST = "request"  # requestId of requests answered by later charger CALLs
    DISPLAY_MESSAGE = "display_message"  # 2.0.1 MessageInfoType.id (SetDisplayMessage)


# Gateway-assigned ids: non-negative 32-bit integers (the schemas' `integer`; 2.0.1 test cases
# expect requestId >= 0), above 1.6 local transaction ids (offline.LOCAL_TX_BASE).
GATEWAY_IDS = range(2_000_000_000, 2_147_483_647)
MAX_PER_KIND = 512  # oldest entries are forgotten first; see `IdMap.assign`


@dataclass(frozen=True, slots=True)
class BackendId:
    backend: str
    id: int


@dataclass
class IdMap:
    """One charger's map: per kind, charger-facing id -> the backend and its own id."""

    entries: dict[IdKind, dict[int, BackendId]] = field(default_factory=dict)
    next_id: int = GATEWAY_IDS.start

    def owner(self, kind: IdKind, charger_id: int) -> BackendId | None:
        return self.entries.get(kind, {}).get(charger_id)

    def charger_id(self, kind: IdKind, backend: str, backend_id: int) -> int | None:
        """The charger-facing id `backend` got for its `backend_id`, if it has one."""
        wanted = BackendId(backend, backend_id)
        for cid, owner in self.entries.get(kind, {}).items():
            if owner == wanted:
                return cid
        return None

    def assign(self, kind: IdKind, backend: str, backend_id: int) -> tuple[int, bool]:
        """The charger-facing id for a new or reused backend id, and whether the map changed.

        Bounded per kind: past `MAX_PER_KIND` the oldest entry is forgotten, after which its
        number is free again; reservations and profiles are forgotten earlier, when cancelled
        or cleared."""
        known = self.charger_id(kind, backend, backend_id)
        if known is not None:
            return known, False
        ids = self.entries.setdefault(kind, {})
        cid = backend_id if backend_id not in ids else self._fresh(ids)
        ids[cid] = BackendId(backend, backend_id)
        while len(ids) > MAX_PER_KIND:
            del ids[next(iter(ids))]
        return cid, True

    def resolve(self, kind: IdKind, backend: str, backend_id: int) -> int:
        """The charger-facing id for a reference to an existing id (cancel, clear, criteria):
        the backend's own mapping; else the number itself when no other backend holds it; else
        an unused gateway id, which matches nothing on the charger (nothing is recorded)."""
        known = self.charger_id(kind, backend, backend_id)
        if known is not None:
            return known
        ids = self.entries.get(kind, {})
        return backend_id if backend_id not in ids else self._fresh(ids)

    def forget(self, kind: IdKind, charger_id: int) -> bool:
        return self.entries.get(kind, {}).pop(charger_id, None) is not None

    def _fresh(self, ids: dict[int, BackendId]) -> int:
        cid = self.next_id
        while cid in ids:
            cid = cid + 1 if cid + 1 < GATEWAY_IDS.stop else GATEWAY_IDS.start
        self.next_id = cid + 1 if cid + 1 < GATEWAY_IDS.stop else GATEWAY_IDS.start
        return cid

    # -- persistence --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        doc: dict[str, Any] = {
            "next_id": self.next_id,
            "ids": {
                kind.value: [[cid, o.backend, o.id] for cid, o in ids.items()]
                for kind, ids in self.entries.items()
                if ids
            },
        }
        return orjson.dumps(doc)

    @classmethod
    def from_bytes(cls, data: bytes) -> IdMap:
        doc = orjson.loads(data)
        entries = {
            IdKind(kind): {int(cid): BackendId(str(b), int(i)) for cid, b, i in rows}
            for kind, rows in doc.get("ids", {}).items()
        }
        return cls(entries, int(doc.get("next_id", GATEWAY_IDS.start)))
