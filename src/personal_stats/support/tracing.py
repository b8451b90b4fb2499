"""Tracing with OpenTelemetry, configured only by its standard environment (`OTEL_*`) and
only with the `otel` extra installed. Without those variables `TRACER` stays None, nothing is
wrapped, and no tracing code runs on the request path: the server adds its span middleware,
and the places that open spans open them, only when `TRACER` is set."""

import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

LOG = logging.getLogger("personal_stats.tracing")
# Any of these asks for tracing (OpenTelemetry's own names; OTEL_SDK_DISABLED=true and
# OTEL_TRACES_EXPORTER=none turn it off).
ASKING = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME")  # fmt: skip
TRACER: Any = None  # an opentelemetry Tracer once `configure` or `install` ran


def wanted(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        return False
    return any(name in environ for name in ASKING)


def configure(environ: Mapping[str, str] = os.environ) -> bool:
    """Trace when the environment asks for it and the `otel` extra is installed: spans go
    to the exporters `OTEL_TRACES_EXPORTER` names (`otlp`, the default, to
    `OTEL_EXPORTER_OTLP_ENDPOINT`; `console`), the service named by `OTEL_SERVICE_NAME`.
    True when tracing."""
    if not wanted(environ):
        return False
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        LOG.warning("OTEL_* variables are set but the otel extra is not installed: no tracing")
        return False
    provider = TracerProvider()  # its resource reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(","):
        if name.strip() == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name.strip() == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console)")
    install(provider)
    return True


def install(provider: Any) -> None:
    """Trace with this tracer provider (the tests give one with an in-memory exporter)."""
    global TRACER
    TRACER = provider.get_tracer("personal_stats")


def uninstall() -> None:
    global TRACER
    TRACER = None


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), when tracing and inside a span."""
    if TRACER is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def batch_span(system: str, verb: str, rows: int) -> AbstractContextManager[Any]:
    """The span of a batch sent on a database driver's own connection (the bulk upserts,
    which the engine's statement events do not see); nothing when not tracing."""
    if TRACER is None:
        return nullcontext()
    attributes = {"db.system.name": system, "db.operation.name": verb,
                  "db.operation.batch.size": rows}  # fmt: skip
    span: AbstractContextManager[Any] = TRACER.start_as_current_span(
        f"db {verb}", attributes=attributes
    )
    return span
