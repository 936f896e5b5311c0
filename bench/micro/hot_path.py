"""What tracing and waiting for an answer cost per charger CALL, in this process, without servers.

Per CALL the edge opens a span and injects its context into the NATS headers; the connectors
extract it and open a child span around the backend hop, then wait for the backend's answer
(`sy_calls.PendingCalls`, also the edge's wait for a charger's answer to a backend CALL). Each
figure is µs per operation:

* spans, one edge hop (span + inject) and one connectors hop (extract + span) each:
  - `old`: as before tracing could be off: an ALWAYS_OFF provider's span, its context injected
    and extracted (what a process without an OTLP endpoint used to pay);
  - `off`: `sy_platform.telemetry.span` etc. with tracing off (no OTLP endpoint), as now;
  - `on, unsampled`: tracing on, the sampler drops the span (an ALWAYS_OFF provider);
  - `on, sampled`: tracing on, the span recorded and handed to a span processor that drops it
    (the export itself, on the BatchSpanProcessor's thread, is not counted).
* one PendingCalls round trip (expect, the answer set from the next loop turn, wait):
  - `wait_for(shield)`: the old `asyncio.wait_for(asyncio.shield(future), timeout)`;
  - `call_later`: `PendingCalls.wait` now (one timer per wait that fails the future).
* the connectors' check that the backend socket is open, on every CALL (`Upstream.call`):
  `wait_for(event.wait())` before, `event.is_set()` now.

The machine may be shared: the variants run interleaved, in blocks of `--n` operations, for
`--rounds` rounds in rotating order; the figures are the median and the best block.

    uv run python bench/micro/hot_path.py [--rounds 15] [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from sy_calls import PendingCalls
from sy_platform import telemetry
from sy_platform.telemetry import inject_headers, span

ANSWER = '[3,"m",{"currentTime":"2026-11-21T10:00:00.000Z"}]'


def _headers() -> dict[str, str]:
    return {
        "Sy-Charger": "CP-000001",
        "Sy-Ocpp": "ocpp1.6",
        "Sy-Msg-Id": "4b7b0bd2-6c8f-4a40-9e3e-6f2a6e4b1c11",
        "Sy-Action": "Heartbeat",
        "Sy-Instance": "edge-0",
        "Sy-Conn": "c-1",
    }


# -- spans -----------------------------------------------------------------------------------


class _Discard(SpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        return None


def _old(n: int) -> float:
    """The code before: ALWAYS_OFF spans, context injected and extracted."""
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("bench")
    started = time.perf_counter_ns()
    for _ in range(n):
        headers = _headers()
        with tracer.start_as_current_span("charger Heartbeat") as edge:
            edge.set_attribute("ocpp.charger_id", "CP-000001")
            edge.set_attribute("ocpp.message_id", headers["Sy-Msg-Id"])
            propagate.inject(headers)
        with tracer.start_as_current_span(
            "backend Heartbeat", context=propagate.extract(headers)
        ) as hop:
            hop.set_attribute("ocpp.charger_id", "CP-000001")
            hop.set_attribute("ocpp.backend", "legacy")
    return (time.perf_counter_ns() - started) / n / 1000


def _new(tracer: trace.Tracer, on: bool) -> Callable[[int], float]:
    def run(n: int) -> float:
        telemetry._on = on  # what setup_tracing decides from the OTLP endpoint
        started = time.perf_counter_ns()
        for _ in range(n):
            headers = _headers()
            with span(
                tracer,
                "charger Heartbeat",
                attributes={"ocpp.charger_id": "CP-000001", "ocpp.message_id": "4b7b0bd2"},
            ):
                inject_headers(headers)
            with span(
                tracer,
                "backend Heartbeat",
                parent=headers,
                attributes={"ocpp.charger_id": "CP-000001", "ocpp.backend": "legacy"},
            ):
                pass
        elapsed = (time.perf_counter_ns() - started) / n / 1000
        telemetry._on = False
        return elapsed

    return run


def _sampled_tracer() -> trace.Tracer:
    provider = TracerProvider()
    provider.add_span_processor(_Discard())
    return provider.get_tracer("bench")


# -- waiting for an answer -------------------------------------------------------------------


class _OldPendingCalls(PendingCalls):
    async def wait(self, message_id: str, future: asyncio.Future[str], timeout_s: float) -> str:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        finally:
            if self._calls.get(message_id) is future:
                del self._calls[message_id]


def _round_trips(pending: PendingCalls) -> Callable[[int], Awaitable[float]]:
    async def run(n: int) -> float:
        loop = asyncio.get_running_loop()
        started = time.perf_counter_ns()
        for _ in range(n):
            future = pending.expect("m")
            loop.call_soon(pending.resolve, "m", ANSWER)  # the answer comes in on a later turn
            await pending.wait("m", future, 30.0)
        return (time.perf_counter_ns() - started) / n / 1000

    return run


async def _open_wait_for(n: int) -> float:
    is_open = asyncio.Event()
    is_open.set()
    started = time.perf_counter_ns()
    for _ in range(n):
        await asyncio.wait_for(is_open.wait(), 10.0)
    return (time.perf_counter_ns() - started) / n / 1000


async def _open_is_set(n: int) -> float:
    is_open = asyncio.Event()
    is_open.set()
    started = time.perf_counter_ns()
    for _ in range(n):
        if not is_open.is_set():
            await asyncio.wait_for(is_open.wait(), 10.0)
    return (time.perf_counter_ns() - started) / n / 1000


# -- the run ---------------------------------------------------------------------------------


async def _interleaved(
    cases: dict[str, Callable[[int], float | Awaitable[float]]], rounds: int, n: int
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for name in names:  # warm up
        result = cases[name](max(n // 10, 1))
        if not isinstance(result, float):
            await result
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            result = cases[name](n)
            figures[name].append(result if isinstance(result, float) else await result)
    return figures


def _report(title: str, figures: dict[str, list[float]], baseline: str) -> None:
    base = statistics.median(figures[baseline])
    width = max(len(name) for name in figures) + 2
    print(f"\n{title}")
    print(f"  {'':<{width}}{'median µs':>10}{'best µs':>10}  vs {baseline}")
    for name, values in figures.items():
        median = statistics.median(values)
        print(f"  {name:<{width}}{median:>10.2f}{min(values):>10.2f}  {median / base:.2f}x")


async def main(rounds: int, n: int) -> None:
    unsampled = TracerProvider(sampler=ALWAYS_OFF).get_tracer("bench")
    spans = await _interleaved(
        {
            "old": _old,
            "off": _new(unsampled, on=False),
            "on, unsampled": _new(unsampled, on=True),
            "on, sampled": _new(_sampled_tracer(), on=True),
        },
        rounds,
        n,
    )
    _report("tracing per CALL: edge span + inject, connectors extract + span", spans, "old")
    waits = await _interleaved(
        {
            "wait_for(shield)": _round_trips(_OldPendingCalls()),
            "call_later": _round_trips(PendingCalls()),
        },
        rounds,
        n,
    )
    _report("PendingCalls round trip (expect, answer next turn, wait)", waits, "wait_for(shield)")
    checks = await _interleaved(
        {"wait_for(event.wait())": _open_wait_for, "event.is_set()": _open_is_set},
        rounds,
        n,
    )
    _report("Upstream.call: is the backend socket open?", checks, "wait_for(event.wait())")
    print(f"\n{rounds} rounds of {n} operations per variant, interleaved")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.n))
