"""OpenTelemetry tracing, and W3C trace context carried in NATS headers."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF


def setup_tracing(service: str, instance: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the process's tracer provider (once: several in-process apps in a test share it)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = tracer_provider(service, instance, otlp_endpoint)
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(service: str, instance: str, otlp_endpoint: str | None) -> TracerProvider:
    """A tracer provider exporting to `otlp_endpoint`, or recording nothing without one."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"switchyard-{service}", "service.instance.id": instance}
        ),
        # With nowhere to export to, record nothing: spans still get trace ids (carried in NATS
        # headers and in the logs), but no span object with its attributes and events is built
        # for every frame only to be dropped: half the cost per span.
        sampler=None if otlp_endpoint else ALWAYS_OFF,
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (traceparent) to NATS headers."""
    propagate.inject(headers)
    return headers


def extract_context(headers: dict[str, str] | None) -> Context:
    return propagate.extract(headers or {})
