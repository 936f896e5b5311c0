"""What the codec costs per charger frame: `validate_call` and `decode`, before and after.

The mix is what chargers send most: BootNotification, Heartbeat, StatusNotification and
MeterValues (OCPP 1.6) and a TransactionEvent with meter values (OCPP 2.0.1), all valid.

* validate: "after" is `validate_call` (fast check, jsonschema only for an invalid payload);
  "before" is what `validate_call` did until then, run in the same process on the same compiled
  validator: `best_match(validator.iter_errors(payload))`.
* decode: "after" is `sy_codec.decode`; "before" is `framing.py` as of `--ref` (default HEAD),
  read with `git show` and loaded beside it. Once the change is committed, pass the commit
  before it, or the two columns measure the same code.

Both sides run interleaved, in alternating order, in short batches, and the median per call is
reported, so other work on the machine (2 shared cores) hits both alike.

    uv run python bench/micro/codec.py [--rounds 31] [--batch 200] [--ref HEAD]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

import sy_codec
from sy_codec import DEFAULT_REGISTRY, Call, OcppVersion, decode, validate_call

NOW = "2026-11-21T10:00:00.000Z"
V16, V201 = OcppVersion.V16, OcppVersion.V201

MIX: list[tuple[OcppVersion, str, dict[str, Any]]] = [
    (
        V16,
        "BootNotification",
        {
            "chargePointVendor": "Acme",
            "chargePointModel": "AC22",
            "chargePointSerialNumber": "ACME-000123",
            "firmwareVersion": "4.2.1",
        },
    ),
    (V16, "Heartbeat", {}),
    (
        V16,
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": NOW},
    ),
    (
        V16,
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 4711,
            "meterValue": [
                {
                    "timestamp": NOW,
                    "sampledValue": [
                        {
                            "value": "12345.6",
                            "context": "Sample.Periodic",
                            "measurand": "Energy.Active.Import.Register",
                            "unit": "Wh",
                        },
                        {"value": "7360", "measurand": "Power.Active.Import", "unit": "W"},
                        {
                            "value": "32.0",
                            "measurand": "Current.Import",
                            "phase": "L1",
                            "unit": "A",
                        },
                        {"value": "230.1", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                    ],
                }
            ],
        },
    ),
    (
        V201,
        "TransactionEvent",
        {
            "eventType": "Updated",
            "timestamp": NOW,
            "triggerReason": "MeterValuePeriodic",
            "seqNo": 17,
            "transactionInfo": {"transactionId": "tx-4711", "chargingState": "Charging"},
            "evse": {"id": 1, "connectorId": 1},
            "meterValue": [
                {
                    "timestamp": NOW,
                    "sampledValue": [
                        {
                            "value": 12345.6,
                            "context": "Sample.Periodic",
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "Wh"},
                        },
                        {"value": 7360, "measurand": "Power.Active.Import"},
                        {"value": 32.0, "measurand": "Current.Import", "phase": "L1"},
                        {"value": 230.1, "measurand": "Voltage", "phase": "L1-N"},
                    ],
                }
            ],
        },
    ),
]


def validate_before(call: Call, version: OcppVersion) -> None:
    """The jsonschema path alone, as `validation._validate` ran it for every payload."""
    validator = DEFAULT_REGISTRY.validator(version, call.action, "request")
    assert validator is not None
    if best_match(validator.iter_errors(call.payload)) is not None:
        raise AssertionError(call)


def framing_at(ref: str) -> types.ModuleType | None:
    """`sy_codec/framing.py` as of git `ref`, loaded as a sibling module of the current one."""
    root = Path(__file__).resolve().parents[2]
    try:
        source = subprocess.run(
            ["git", "show", f"{ref}:libs/codec/src/sy_codec/framing.py"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"decode before: cannot read framing.py at {ref} ({exc}); after only")
        return None
    module = types.ModuleType("sy_codec._framing_before")
    module.__package__ = sy_codec.__name__  # its relative imports bind to the current package
    exec(compile(source, f"{ref}:framing.py", "exec"), module.__dict__)
    return module


def per_call_us(function: Callable[[], object], batch: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(batch):
        function()
    return (time.perf_counter_ns() - start) / batch / 1000


def compare(
    before: Callable[[], object], after: Callable[[], object], rounds: int, batch: int
) -> tuple[float, float]:
    """Median µs per call of each, measured in alternating order round by round."""
    for function in (before, after):  # warm up: compile caches, first-use lookups
        per_call_us(function, batch)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for round_ in range(rounds):
        order = [("before", before), ("after", after)]
        for name, function in order if round_ % 2 else reversed(order):
            times[name].append(per_call_us(function, batch))
    return statistics.median(times["before"]), statistics.median(times["after"])


def mean_row(rows: list[tuple[str, float, float | None]]) -> tuple[str, float, float | None]:
    """The plain mean over the mix: every message type weighted alike."""
    befores = [before for _, before, _ in rows]
    afters = [after for _, _, after in rows if after is not None]
    return "mix (mean)", statistics.fmean(befores), statistics.fmean(afters)


def report(title: str, rows: list[tuple[str, float, float | None]]) -> None:
    print(f"\n{title}: µs per call (median)")
    print(f"  {'message':<30} {'before':>9} {'after':>9} {'speed-up':>9}")
    for name, before, after in rows:
        if after is None:
            print(f"  {name:<30} {'-':>9} {before:>9.2f}")
        else:
            print(f"  {name:<30} {before:>9.2f} {after:>9.2f} {before / after:>8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds per figure")
    parser.add_argument("--batch", type=int, default=200, help="calls per timed batch")
    parser.add_argument("--ref", default="HEAD", help="git ref whose framing.py is 'before'")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds x {args.batch} calls")

    calls = [
        (f"{version} {action}", version, Call("19223201", action, payload))
        for version, action, payload in MIX
    ]

    rows: list[tuple[str, float, float | None]] = []
    for name, version, call in calls:
        validate_call(call, version)  # valid, or the figures mean nothing
        before, after = compare(
            partial(validate_before, call, version),
            partial(validate_call, call, version),
            args.rounds,
            args.batch,
        )
        rows.append((name, before, after))
    report("validate_call", [*rows, mean_row(rows)])

    old = framing_at(args.ref)
    rows = []
    for name, version, call in calls:
        frame = orjson.dumps([2, call.message_id, call.action, call.payload]).decode()
        assert decode(frame, version) == call
        if old is None:
            rows.append((name, per_call_us(partial(decode, frame, version), 20_000), None))
            continue
        before, after = compare(
            partial(old.decode, frame, version),
            partial(decode, frame, version),
            args.rounds,
            args.batch * 10,
        )
        rows.append((name, before, after))
    if old is not None:
        rows.append(mean_row(rows))
    report(f"decode (before = framing.py at {args.ref})", rows)


if __name__ == "__main__":
    main()
