"""Backend-initiated OCPP actions: what a route's ACL (`commands`) may list.

A backend on a route may send the charger only the actions its ACL allows; the connectors enforce
it. Names are checked here so a typo ("RemoteStart") is refused when the route is set, not
discovered when a command is silently refused in the field.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# OCPP 1.6 (with the security whitepaper's additions): messages the Central System initiates.
OCPP16 = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ChangeConfiguration",
        "ClearCache", "ClearChargingProfile", "DataTransfer", "DeleteCertificate",
        "ExtendedTriggerMessage", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "InstallCertificate",
        "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset",
        "SendLocalList", "SetChargingProfile", "SignedUpdateFirmware", "TriggerMessage",
        "UnlockConnector", "UpdateFirmware",
    }
)  # fmt: skip
# OCPP 2.0.1: messages the CSMS initiates.
OCPP201 = frozenset(
    {
        "CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache",
        "ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated",
        "CustomerInformation", "DataTransfer", "DeleteCertificate", "GetBaseReport",
        "GetChargingProfiles", "GetCompositeSchedule", "GetDisplayMessages",
        "GetInstalledCertificateIds", "GetLocalListVersion", "GetLog", "GetMonitoringReport",
        "GetReport", "GetTransactionStatus", "GetVariables", "InstallCertificate",
        "PublishFirmware", "RequestStartTransaction", "RequestStopTransaction", "ReserveNow",
        "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage", "SetMonitoringBase",
        "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring", "SetVariables",
        "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware",
    }
)  # fmt: skip
BACKEND_INITIATED = OCPP16 | OCPP201


def commands(value: list[str] | None) -> list[str] | None:
    """An ACL: None allows every action, [] none, else the listed actions (sorted, no repeats)."""
    if value is None:
        return None
    unknown = sorted({a for a in value if a not in BACKEND_INITIATED})
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} not backend-initiated OCPP 1.6/2.0.1 action(s);"
            f" e.g. {', '.join(_examples(unknown))}"
        )
    return sorted(set(value))


def _examples(unknown: Iterable[str]) -> list[str]:
    """Close spellings of what was meant, else a few common actions."""
    found: list[str] = []
    for name in unknown:
        found += difflib.get_close_matches(name, BACKEND_INITIATED, n=2, cutoff=0.6)
    return list(dict.fromkeys(found))[:4] or ["RemoteStartTransaction", "Reset", "TriggerMessage"]
