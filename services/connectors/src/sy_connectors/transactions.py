"""Which backend owns each open transaction, and what each backend calls it (sans-I/O).

Invariant 6: a transaction finishes on the backend that started it, even after the charger's
primary changed. In OCPP 1.6 the backend assigns the transactionId (StartTransaction.conf), so a
shadow assigns its own: the charger keeps using the owner's id and every copy to a shadow is
rewritten to the shadow's id. In 2.0.1 the charger assigns the transactionId, the same for all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from sy_codec import Call, OcppVersion
from sy_connectors.idfields import rewrite

V16_TX_ACTIONS = frozenset({"StopTransaction", "MeterValues"})
# Backend CALLs naming a transaction (1.6 §6.35 RemoteStopTransaction, §5.16 TxProfile).
V16_BACKEND_TX_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "RemoteStopTransaction": (("transactionId",),),
    "SetChargingProfile": (("csChargingProfiles", "transactionId"),),
}


@dataclass
class Transaction:
    key: str  # the id the charger uses
    owner: str  # backend that answered its start as primary
    backend_ids: dict[str, Any] = field(default_factory=dict)  # backend -> its id for it
    participants: list[str] = field(default_factory=list)  # owner + shadows at start

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> Transaction:
        return cls(**orjson.loads(data))


def transaction_key(call: Call, version: OcppVersion) -> str | None:
    """The charger-side transaction id a CALL belongs to, if any."""
    if version is OcppVersion.V16:
        if call.action in V16_TX_ACTIONS and "transactionId" in call.payload:
            return str(call.payload["transactionId"])
        return None
    if call.action == "TransactionEvent":
        info = call.payload.get("transactionInfo") or {}
        tx = info.get("transactionId")
        return str(tx) if tx is not None else None
    return None


def is_start(call: Call, version: OcppVersion) -> bool:
    if version is OcppVersion.V16:
        return call.action == "StartTransaction"
    return call.action == "TransactionEvent" and call.payload.get("eventType") == "Started"


def is_end(call: Call, version: OcppVersion) -> bool:
    if version is OcppVersion.V16:
        return call.action == "StopTransaction"
    return call.action == "TransactionEvent" and call.payload.get("eventType") == "Ended"


class TransactionBook:
    """Open transactions of one charger."""

    def __init__(self, version: OcppVersion, known: dict[str, Transaction] | None = None) -> None:
        self.version = version
        self.open: dict[str, Transaction] = dict(known or {})

    def owner_of(self, call: Call) -> Transaction | None:
        key = transaction_key(call, self.version)
        return self.open.get(key) if key is not None else None

    def started(
        self, call: Call, owner: str, answer: dict[str, Any], shadows: list[str]
    ) -> Transaction | None:
        """Record a transaction whose start the owner answered; None when it did not start one."""
        if self.version is OcppVersion.V16:
            tx_id = answer.get("transactionId")
            if tx_id is None:
                return None
            key = str(tx_id)
            backend_ids: dict[str, Any] = {owner: tx_id}
        else:
            key = transaction_key(call, self.version) or ""
            if not key:
                return None
            backend_ids = {owner: key}
        tx = Transaction(key, owner, backend_ids, [owner, *shadows])
        self.open[key] = tx
        return tx

    def learn(self, key: str, backend: str, answer: dict[str, Any]) -> None:
        """A shadow answered its copy of a start: remember its own id (1.6)."""
        tx = self.open.get(key)
        if tx is None:
            return
        if self.version is OcppVersion.V16:
            if answer.get("transactionId") is not None:
                tx.backend_ids[backend] = answer["transactionId"]
        else:
            tx.backend_ids[backend] = key

    def ended(self, call: Call) -> Transaction | None:
        key = transaction_key(call, self.version)
        return self.open.pop(key, None) if key is not None else None

    def owned_by(self, backend: str) -> list[Transaction]:
        return [tx for tx in self.open.values() if tx.owner == backend]

    def payload_for(self, call: Call, tx: Transaction, backend: str) -> dict[str, Any] | None:
        """The CALL's payload as `backend` must see it, or None when that backend has no id for
        the transaction (its copy of the start failed)."""
        if self.version is not OcppVersion.V16:
            return call.payload
        backend_id = tx.backend_ids.get(backend)
        if backend_id is None:
            return None
        if str(backend_id) == str(call.payload.get("transactionId")):
            return call.payload
        return {**call.payload, "transactionId": backend_id}

    def to_charger(self, call: Call, backend: str) -> dict[str, Any]:
        """A 1.6 backend CALL naming a transaction by `backend`'s own id (a shadow's
        RemoteStopTransaction, a TxProfile's transactionId), with the id the charger uses."""
        paths = V16_BACKEND_TX_FIELDS.get(call.action) if self.version is OcppVersion.V16 else None
        if not paths:
            return call.payload
        charger_ids = {
            str(tx.backend_ids[backend]): int(tx.key)
            for tx in self.open.values()
            if backend in tx.backend_ids and tx.key.lstrip("-").isdigit()
        }
        payload = call.payload
        for path in paths:
            payload = rewrite(payload, path, lambda tx_id: charger_ids.get(str(tx_id), tx_id))
        return payload

    def started_offline(self, call: Call, owner: str, local_id: int | None) -> Transaction | None:
        """A start stored for a backend that is down: the charger got `local_id` (1.6); the
        backend's own id is learned when the stored start is delivered."""
        if self.version is OcppVersion.V16:
            if local_id is None:
                return None
            tx = Transaction(str(local_id), owner, {}, [owner])
        else:
            key = transaction_key(call, self.version)
            if key is None:
                return None
            tx = Transaction(key, owner, {owner: key}, [owner])
        self.open[tx.key] = tx
        return tx
