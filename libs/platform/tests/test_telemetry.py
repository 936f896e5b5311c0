"""Tracing without an exporter records nothing, yet every span still has a trace id to carry."""

from opentelemetry import propagate

from sy_platform.telemetry import tracer_provider


def test_without_an_exporter_spans_are_not_recorded_but_still_carry_a_trace_id() -> None:
    tracer = tracer_provider("edge", "edge-0", None).get_tracer("test")
    headers: dict[str, str] = {}
    with tracer.start_as_current_span("charger Heartbeat") as span:
        span.set_attribute("ocpp.charger_id", "CP-1")
        propagate.inject(headers)
        context = span.get_span_context()
    assert not span.is_recording()
    assert context.is_valid
    _, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert int(flags, 16) & 1 == 0  # not sampled: nobody downstream records it either
