"""Tracing is off without an OTLP endpoint: no span, no trace context in the headers, no trace id
in the logs. With one, a CALL's spans share a trace across services and reach the receiver."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import orjson
from opentelemetry import trace

from sy_devkit.otlp import SpanCollector
from sy_platform.logs import JsonFormatter
from sy_platform.telemetry import (
    NO_SPAN,
    extract_context,
    inject_headers,
    setup_tracing,
    span,
    tracer_provider,
    tracing_on,
)


def _log_line() -> dict[str, object]:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    return dict(orjson.loads(JsonFormatter("edge").format(record)))


def test_without_an_exporter_tracing_is_off_and_costs_nothing_per_call() -> None:
    setup_tracing("edge", "edge-0", None)
    assert not tracing_on()
    tracer = trace.get_tracer("test")
    headers = {"Sy-Charger": "CP-1"}
    with span(tracer, "charger Heartbeat", attributes={"ocpp.charger_id": "CP-1"}) as current:
        assert current is trace.INVALID_SPAN
        assert trace.get_current_span() is trace.INVALID_SPAN
        inject_headers(headers)
        assert "trace_id" not in _log_line()
    assert span(tracer, "backend Heartbeat", parent=headers) is NO_SPAN
    assert headers == {"Sy-Charger": "CP-1"}  # no traceparent
    assert extract_context({"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}) is None


def test_a_span_started_anyway_without_an_exporter_is_not_recorded() -> None:
    tracer = tracer_provider("edge", "edge-0", None).get_tracer("test")
    with tracer.start_as_current_span("library span") as started:
        assert not started.is_recording()


# Runs in a process of its own: a process installs its tracer provider once, and this test
# process's is the one without an exporter.
TRACING_ON = """
import logging, sys
import orjson
from opentelemetry import context, trace
from sy_platform.logs import JsonFormatter
from sy_platform.telemetry import extract_context, inject_headers, setup_tracing, span, tracing_on

provider = setup_tracing("edge", "edge-0", sys.argv[1])
assert tracing_on()
tracer = trace.get_tracer("test")
headers = {"Sy-Charger": "CP-1"}
with span(tracer, "charger Heartbeat", attributes={"ocpp.charger_id": "CP-1"}) as edge:
    inject_headers(headers)
    record = logging.LogRecord("t", logging.INFO, "", 1, "hello", None, None)
    logged = orjson.loads(JsonFormatter("edge").format(record))
    assert logged["trace_id"] == format(edge.get_span_context().trace_id, "032x"), logged
assert trace.get_current_span() is trace.INVALID_SPAN
with span(tracer, "backend Heartbeat", parent=headers, attributes={"ocpp.charger_id": "CP-1"}):
    pass
assert extract_context(headers) != context.Context()
provider.shutdown()  # flushes the batch to the receiver
print(headers["traceparent"])
"""


def test_with_an_exporter_a_call_is_one_trace_carried_in_the_headers() -> None:
    collector = SpanCollector().start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(TRACING_ON), collector.endpoint],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        _, trace_id, span_id, flags = done.stdout.strip().split("-")
        assert int(flags, 16) & 1 == 1  # sampled: the connectors record their hop too
        spans = {s.name: s for s in collector.find(**{"ocpp.charger_id": "CP-1"})}
        assert set(spans) == {"charger Heartbeat", "backend Heartbeat"}
        edge, backend = spans["charger Heartbeat"], spans["backend Heartbeat"]
        assert edge.service == "switchyard-edge"
        assert (edge.trace_id, edge.span_id) == (trace_id, span_id)
        assert (backend.trace_id, backend.parent_span_id) == (trace_id, span_id)
    finally:
        collector.stop()
