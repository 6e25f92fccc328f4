"""Wires an OpenTelemetry SDK when the user asks for one; the code itself only uses the API.

Without configuration every span is the API's no-op (a few hundred nanoseconds). With the
standard variables (``OTEL_TRACES_EXPORTER=otlp`` or ``console``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``) and the SDK installed (``pip install 'llm-auto-optimizer[tracing]'``),
the serve process and every actor (Ray workers inherit the environment) export their spans.
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace

log = logging.getLogger("llmopt.tracing")
_configured = False


def configure_tracing() -> str | None:
    """Install an SDK tracer provider with the exporter the environment names; returns its
    name, or None when tracing is off (the default) or the SDK is not installed."""
    global _configured
    wanted = os.environ.get("OTEL_TRACES_EXPORTER") or (
        "otlp" if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
    )
    if wanted == "none" or _configured:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )

        exporter: SpanExporter
        if wanted == "console":
            exporter = ConsoleSpanExporter()
        elif wanted == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found, unused-ignore]
                OTLPSpanExporter,
            )

            exporter = OTLPSpanExporter()
        else:
            log.warning(
                "unknown OTEL_TRACES_EXPORTER; tracing stays off", extra={"exporter": wanted}
            )
            return None
    except ImportError as exc:
        log.warning(
            "tracing requested but the OpenTelemetry SDK or exporter is not installed",
            extra={"exporter": wanted, "error": str(exc)},
        )
        return None
    service = os.environ.get("OTEL_SERVICE_NAME", "llm-auto-optimizer")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured = True
    return wanted


def tracing_enabled() -> bool:
    """Whether spans are recorded: a tracer provider other than the API's defaults is installed.

    The decision path asks once, when it starts, and builds no spans when this is False: the
    API's no-op span still costs ~4 us to enter and leave here, four of them ~10% of a lone
    decision's CPU in the actor.
    """
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)
