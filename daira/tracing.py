"""OpenTelemetry tracing, switched on only when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)
_configured = False


def configure() -> bool:
    """Install the OTLP exporter and Django instrumentation once; return whether tracing is on."""
    global _configured
    if _configured or not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return _configured
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "daira"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    _configured = True
    logger.info("tracing.enabled", extra={"endpoint": settings.OTEL_EXPORTER_OTLP_ENDPOINT})
    return True
