"""Meter readings in SI-ish units, whatever the charger sent.

1.6 sends `sampledValue[]` with string values, an optional `unit` (default Wh) and an optional
`measurand` (default Energy.Active.Import.Register). 2.0.1 sends numbers with an optional
`unitOfMeasure {unit, multiplier}` (value x 10^multiplier). Both are brought to Wh, varh, W, var,
VA, A, V, Hz, Celsius or Percent here. Measurand, phase, context and location names are the same
strings in both versions and are kept as sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

ENERGY_REGISTER = "Energy.Active.Import.Register"

# unit as sent -> (canonical unit, factor)
_UNITS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1000.0),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1000.0),
    "W": ("W", 1.0),
    "kW": ("W", 1000.0),
    "var": ("var", 1.0),
    "kvar": ("var", 1000.0),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1000.0),
    "A": ("A", 1.0),
    "V": ("V", 1.0),
    "Hz": ("Hz", 1.0),
    "Celsius": ("Celsius", 1.0),
    "Percent": ("Percent", 1.0),
    "K": ("Celsius", 1.0),  # offset applied below
    "Fahrenheit": ("Celsius", 1.0),  # converted below
}
# Chargers in the field spell units in every case ('KWH', 'kwh', 'wh').
_UNITS_FOLDED = {k.lower(): v for k, v in _UNITS.items()}

# The unit a measurand is in when the charger names none (1.6 §7.31 default is Wh for energy).
_DEFAULT_UNIT_BY_PREFIX = (
    ("Energy.Reactive", "varh"),
    ("Energy", "Wh"),
    ("Power.Reactive", "var"),
    ("Power.Factor", ""),
    ("Power", "W"),
    ("Current", "A"),
    ("Voltage", "V"),
    ("Frequency", "Hz"),
    ("Temperature", "Celsius"),
    ("SoC", "Percent"),
    ("RPM", ""),
)


class MeterReading(BaseModel):
    """One sampled value, normalised."""

    measurand: str = Field(
        description="OCPP measurand, e.g. 'Energy.Active.Import.Register', 'Power.Active.Import'."
    )
    value: float = Field(description="The value in `unit` (kWh, kW, ... already converted).")
    unit: str = Field(
        description="Wh, varh, W, var, VA, A, V, Hz, Celsius, Percent, or '' when dimensionless; "
        "any other unit the charger sent is kept as sent."
    )
    phase: str | None = Field(None, description="Phase, e.g. 'L1', 'L2-N'; null for the total.")
    context: str | None = Field(
        None, description="Why it was sampled, e.g. 'Sample.Periodic', 'Transaction.Begin'."
    )
    location: str | None = Field(None, description="Where, e.g. 'Outlet', 'Inlet', 'EV'.")
    sampled_at: AwareDatetime | None = Field(
        None, description="The charger's timestamp of the sample (its own clock)."
    )


def default_unit(measurand: str) -> str:
    for prefix, unit in _DEFAULT_UNIT_BY_PREFIX:
        if measurand.startswith(prefix):
            return unit
    return ""


def _number(value: object) -> float | None:
    """A finite number: 'NaN' and 'Infinity' parse as floats but are no reading, and a JSON
    event cannot carry them (they would be published as null)."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip().replace(",", "."))  # '12,5' from some firmware
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def convert(value: float, unit: str, multiplier: int = 0) -> tuple[float, str]:
    """(value, unit as sent, 2.0.1 multiplier) -> (value, canonical unit)."""
    value = value * (10.0**multiplier)
    canonical, factor = _UNITS.get(unit) or _UNITS_FOLDED.get(unit.lower(), (unit, 1.0))
    if unit.lower() == "k":
        return value - 273.15, canonical
    if unit.lower() == "fahrenheit":
        return (value - 32.0) * 5.0 / 9.0, canonical
    return value * factor, canonical


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if ts.tzinfo is None:
            return None
        ts.astimezone(UTC)  # an offset past year 1 or 9999: no instant Python holds in UTC
    except (ValueError, OverflowError):
        return None
    return ts


def readings(meter_values: object) -> list[MeterReading]:
    """Flatten `meterValue[]` / `transactionData[]` of either version into normalised readings.

    Values that are not numbers (1.6 `format: SignedData`, garbage, NaN, infinities, or a
    multiplier beyond a float's range) are skipped: a reading downstream can add up is worth more
    than a string it cannot.
    """
    out: list[MeterReading] = []
    for mv in _objects(meter_values):
        sampled_at = _timestamp(mv.get("timestamp"))
        for sv in _objects(mv.get("sampledValue")):
            if sv.get("format") == "SignedData":
                continue
            number = _number(sv.get("value"))
            if number is None:
                continue
            measurand = sv.get("measurand") or ENERGY_REGISTER
            if not isinstance(measurand, str):
                continue
            uom = sv.get("unitOfMeasure")
            multiplier = 0
            unit = sv.get("unit")
            if isinstance(uom, dict):
                unit = uom.get("unit", unit)
                mult = uom.get("multiplier", 0)
                multiplier = mult if isinstance(mult, int) and not isinstance(mult, bool) else 0
            if not isinstance(unit, str) or not unit:
                unit = default_unit(measurand)
            try:
                value, canonical = convert(number, unit, multiplier)
            except OverflowError:  # 10.0 ** multiplier
                continue
            if not math.isfinite(value):
                continue
            out.append(
                MeterReading(
                    measurand=measurand,
                    value=value,
                    unit=canonical,
                    phase=_str(sv.get("phase")),
                    context=_str(sv.get("context")),
                    location=_str(sv.get("location")),
                    sampled_at=sampled_at,
                )
            )
    return out


def energy_register_wh(values: Iterable[MeterReading], context: str | None = None) -> float | None:
    """The total (phase-less) active import register in Wh, optionally for one context."""
    for r in values:
        total = r.measurand == ENERGY_REGISTER and r.unit == "Wh" and r.phase is None
        if total and (context is None or r.context == context):
            return r.value
    return None


def _objects(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
