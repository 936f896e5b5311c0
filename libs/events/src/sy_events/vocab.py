"""One vocabulary for both OCPP versions: connector statuses, stop reasons, authorization results.

The values of each version are mapped here and nowhere else, so a downstream system never sees
whether a charger speaks 1.6 or 2.0.1.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache


class ConnectorStatus(StrEnum):
    """The 2.0.1 connector states; 1.6's finer states are kept in `OccupiedDetail`."""

    AVAILABLE = "available"
    OCCUPIED = "occupied"
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"
    UNKNOWN = "unknown"


class OccupiedDetail(StrEnum):
    """Why a connector is occupied, when the charger says (1.6 only)."""

    PREPARING = "preparing"
    CHARGING = "charging"
    SUSPENDED_EV = "suspended_ev"
    SUSPENDED_EVSE = "suspended_evse"
    FINISHING = "finishing"


_STATUS: dict[str, tuple[ConnectorStatus, OccupiedDetail | None]] = {
    # 1.6 ChargePointStatus
    "Available": (ConnectorStatus.AVAILABLE, None),
    "Preparing": (ConnectorStatus.OCCUPIED, OccupiedDetail.PREPARING),
    "Charging": (ConnectorStatus.OCCUPIED, OccupiedDetail.CHARGING),
    "SuspendedEV": (ConnectorStatus.OCCUPIED, OccupiedDetail.SUSPENDED_EV),
    "SuspendedEVSE": (ConnectorStatus.OCCUPIED, OccupiedDetail.SUSPENDED_EVSE),
    "Finishing": (ConnectorStatus.OCCUPIED, OccupiedDetail.FINISHING),
    "Reserved": (ConnectorStatus.RESERVED, None),
    "Unavailable": (ConnectorStatus.UNAVAILABLE, None),
    "Faulted": (ConnectorStatus.FAULTED, None),
    # 2.0.1 ConnectorStatusEnumType (Available, Reserved, Unavailable, Faulted shared with 1.6)
    "Occupied": (ConnectorStatus.OCCUPIED, None),
}


def connector_status(value: object) -> tuple[ConnectorStatus, OccupiedDetail | None]:
    """Map a 1.6 or 2.0.1 status string; anything else is `unknown` rather than an error."""
    if isinstance(value, str):
        return _STATUS.get(value, (ConnectorStatus.UNKNOWN, None))
    return ConnectorStatus.UNKNOWN, None


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@lru_cache(maxsize=4096)  # a few dozen enum values in practice; a regex is 5 µs a call
def snake(value: str) -> str:
    """'EVDisconnected' -> 'ev_disconnected', 'SOCLimitReached' -> 'soc_limit_reached'."""
    return _CAMEL.sub("_", value).replace("-", "_").replace(".", "_").lower()


# Reasons that differ only in how each version names a reset.
_STOP_ALIASES = {"HardReset": "reset", "SoftReset": "reset", "ImmediateReset": "reset"}


def stop_reason(value: object) -> str:
    """A transaction's stop reason in snake case; absent means 'local' in both versions
    (1.6 StopTransaction.reason and 2.0.1 stoppedReason may only be omitted when Local)."""
    if not isinstance(value, str) or not value:
        return "local"
    return _STOP_ALIASES.get(value, snake(value))


def authorization_status(value: object) -> str:
    """1.6 AuthorizationStatus / 2.0.1 AuthorizationStatusEnumType in snake case
    ('Accepted' -> 'accepted', 'ConcurrentTx' -> 'concurrent_tx'); absent is 'unknown'."""
    return snake(value) if isinstance(value, str) and value else "unknown"


def no_error(error_code: str | None) -> bool:
    return error_code in (None, "", "NoError", "no_error")
