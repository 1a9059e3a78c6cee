"""OpenTelemetry tracing: HTTP (FastAPI), asyncpg, and Kafka via the W3C ``traceparent`` header.

Producers stamp the current span's traceparent into the event (and so into the record header); consumers
continue the trace with :func:`event_span`, so one trace spans request, outbox, topic, consumer and alert.
Spans are exported over OTLP/HTTP only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

_provider: TracerProvider | None = None


def setup_tracing(service: str, otlp_endpoint: str | None, *, extra_processor: SpanProcessor | None = None) -> None:
    """Install the global tracer provider once per process; later calls may only add a span processor
    (tests add an in-memory exporter this way)."""
    global _provider
    if _provider is not None:
        if extra_processor is not None:
            _provider.add_span_processor(extra_processor)
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"rapport-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces")))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        AsyncPGInstrumentor(capture_parameters=False).instrument()  # type: ignore[no-untyped-call]  # untyped upstream
    except Exception:  # instrumentation is best effort; tracing must never stop a service
        pass
    _provider = provider


def tracer() -> trace.Tracer:
    return trace.get_tracer("rapport")


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to stamp into events produced now."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def event_span(name: str, event: Any, *, kind: SpanKind = SpanKind.CONSUMER) -> Iterator[Span]:
    """A span continuing the trace the event's producer started (its ``traceparent``), if any."""
    parent = propagate.extract({"traceparent": event.traceparent}) if getattr(event, "traceparent", None) else None
    with tracer().start_as_current_span(
        name, context=parent, kind=kind, attributes={"messaging.system": "kafka", "cloudevents.event_type": event.type}
    ) as span:
        yield span


#: span attributes in which HTTP instrumentation puts the raw URL (path ids, query strings with client ids)
URL_ATTRIBUTES = ("http.target", "http.url", "url.path", "url.full", "url.query")


def redact_url_attributes(span: Span, scope: dict[str, Any]) -> None:
    """``server_request_hook`` for the FastAPI instrumentation: spans keep the route template (``http.route``)
    but never the raw URL, whose path and query name clients (minimum necessary)."""
    if span is not None and span.is_recording():
        for attribute in URL_ATTRIBUTES:
            span.set_attribute(attribute, "[redacted]")
