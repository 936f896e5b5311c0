"""Unit normalisation of meter readings: pure."""

import pytest

from sy_events.meter import convert, energy_register_wh, readings


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "expected"),
    [
        (2.5, "kWh", 0, (2500.0, "Wh")),
        (2.5, "kwh", 0, (2500.0, "Wh")),
        (7.2, "kW", 0, (7200.0, "W")),
        (3, "kvarh", 0, (3000.0, "varh")),
        (1, "Wh", 3, (1000.0, "Wh")),
        (230, "V", 0, (230.0, "V")),
        (300.15, "K", 0, (pytest.approx(27.0), "Celsius")),
        (212, "Fahrenheit", 0, (pytest.approx(100.0), "Celsius")),
        (5, "furlongs", 0, (5.0, "furlongs")),
    ],
)
def test_convert(value: float, unit: str, multiplier: int, expected: tuple[float, str]) -> None:
    assert convert(value, unit, multiplier) == expected


def test_signed_and_garbage_values_are_skipped_and_defaults_apply() -> None:
    mv = [
        {
            "timestamp": "2023-11-14T22:20:00Z",
            "sampledValue": [
                {"value": "AB12==", "format": "SignedData"},
                {"value": "n/a"},
                {"value": "12,5", "measurand": "Current.Import"},
                {"value": "80", "measurand": "SoC"},
                {"value": "1234", "context": "Transaction.End"},
            ],
        },
        "not an object",
    ]
    out = readings(mv)
    assert [(r.measurand, r.value, r.unit) for r in out] == [
        ("Current.Import", 12.5, "A"),
        ("SoC", 80.0, "Percent"),
        ("Energy.Active.Import.Register", 1234.0, "Wh"),
    ]
    assert out[0].sampled_at is not None and out[0].sampled_at.year == 2023
    assert energy_register_wh(out, "Transaction.End") == 1234.0
    assert energy_register_wh(out, "Transaction.Begin") is None


def test_values_that_are_no_finite_number_are_skipped() -> None:
    # float() takes 'NaN' and 'inf'; a JSON event cannot carry them (they would be null, which
    # the event's schema refuses). A multiplier beyond a float's range is no reading either.
    mv = [
        {
            "sampledValue": [
                {"value": "NaN"},
                {"value": "nan"},
                {"value": "inf"},
                {"value": "-Infinity"},
                {"value": "1e400"},
                {"value": 5, "unitOfMeasure": {"unit": "Wh", "multiplier": 400}},
                {"value": 1e300, "unitOfMeasure": {"unit": "kWh", "multiplier": 8}},
                {"value": "7"},
            ]
        }
    ]
    assert [(r.value, r.unit) for r in readings(mv)] == [(7.0, "Wh")]
