"""OpenTelemetry tracing, and W3C trace context carried in NATS headers.

Tracing is on in a process when it has somewhere to export spans (`SY_OTLP_ENDPOINT`), off
otherwise. What an operator gets:

* on: every charger CALL is one trace: the edge's `charger <Action>` span and, as its child, the
  connectors' `backend <Action>` span around the backend hop (the edge puts `traceparent` in the
  NATS headers of the CALL, the connectors continue it), exported over OTLP/HTTP; every JSON log
  line written inside a span carries its `trace_id`, which joins the log lines of one CALL
  across the services.
* off: no span is created, no `traceparent` is sent or read, and log lines have no `trace_id`:
  nothing is exported, so trace ids would only join log lines, and those already carry the
  `charger_id` (and the OCPP message id where one is involved). Spans created only to be
  dropped by the sampler, their context carried anyway, cost about a tenth of the edge's and of
  the connectors' CPU per CALL (py-spy, 470 CALLs/s), for ids nobody could look up.

A service with tracing off that receives `traceparent` from one with tracing on ignores it; one
with tracing on that receives none starts a trace of its own.

Call sites use `span(tracer, name, ...)` (one shared no-op context manager when off),
`inject_headers` and `extract_context` (no-ops when off), or test `tracing_on()` to skip work
of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from types import TracebackType

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.util.types import Attributes

_on = False


def tracing_on() -> bool:
    """Whether this process records and propagates spans (it has an OTLP endpoint)."""
    return _on


def setup_tracing(service: str, instance: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the process's tracer provider (once: several in-process apps in a test share it,
    and the first decides whether tracing is on)."""
    global _on
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = tracer_provider(service, instance, otlp_endpoint)
        trace.set_tracer_provider(provider)
    _on = provider.sampler is not ALWAYS_OFF
    return provider


def tracer_provider(service: str, instance: str, otlp_endpoint: str | None) -> TracerProvider:
    """A tracer provider exporting to `otlp_endpoint`, or sampling nothing without one."""
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": f"switchyard-{service}", "service.instance.id": instance}
        ),
        # With nowhere to export to, tracing is off (`tracing_on()` is false) and call sites
        # create no spans at all; a span started anyway (by a library) is not recorded.
        sampler=None if otlp_endpoint else ALWAYS_OFF,
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


class _NoSpan(AbstractContextManager[trace.Span]):
    """`with span(...) as s:` when tracing is off: one shared object, `s` the invalid span (its
    `set_attribute` and friends do nothing), the current context untouched."""

    __slots__ = ()

    def __enter__(self) -> trace.Span:
        return trace.INVALID_SPAN

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


NO_SPAN = _NoSpan()


def span(
    tracer: trace.Tracer,
    name: str,
    *,
    parent: Mapping[str, str] | None = None,
    attributes: Attributes = None,
) -> AbstractContextManager[trace.Span]:
    """`tracer.start_as_current_span(name, ...)` when tracing is on, `NO_SPAN` when off.

    `parent`: headers that may carry the caller's trace context (`traceparent`); read only when
    tracing is on."""
    if not _on:
        return NO_SPAN
    context = propagate.extract(parent) if parent is not None else None
    return tracer.start_as_current_span(name, context=context, attributes=attributes)


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (traceparent) to NATS headers; nothing when tracing is off."""
    if _on:
        propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> Context | None:
    """The trace context carried in NATS headers; None (the current one) when tracing is off."""
    if not _on:
        return None
    return propagate.extract(headers or {})
