"""Telemetry: JSON logs with trace ids, and OpenTelemetry traces and metrics.

Exporters are chosen only through the standard ``OTEL_*`` environment variables:
``OTEL_TRACES_EXPORTER`` and ``OTEL_METRICS_EXPORTER`` (``otlp``, the default, ``console`` or
``none``), ``OTEL_EXPORTER_OTLP_ENDPOINT`` and the rest of ``OTEL_EXPORTER_OTLP_*``,
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_PROPAGATORS``, ``OTEL_METRIC_EXPORT_INTERVAL``.

Nothing personal leaves a service through telemetry. A log line carries its message and,
of a record's extra fields, only ``SAFE_FIELDS`` (an exception only by its type).
Spans are exported through ``SafeSpanExporter``, which keeps only the attributes in
``SAFE_SPAN_ATTRIBUTES`` (so a library's ``url.full``, which may hold a webhook's secret
path, or an exception message, which may quote input, never leaves), and metrics keep only
``SAFE_METRIC_ATTRIBUTES`` (a view over every instrument).

Trace context crosses Kafka in the W3C ``traceparent`` header: every outbox message carries
the context of the transaction that produced it, and every consumer batch runs in a
``process <topic>`` span whose parent is the context of its first record that carries one
and which links (up to 32 of) the others (the OpenTelemetry messaging conventions for
batches). A single event therefore
yields one connected trace from the HTTP request to the webhook delivery.
"""

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream import BaseMiddleware
from faststream.message import StreamMessage
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util.types import Attributes

from kinship_runtime.quiet import LibraryRepeats

SAFE_FIELDS = (
    "topic",
    "partition",
    "offset",
    "reason_code",
    "count",
    "duration_ms",
    "status",
    "repeated",
)
"""Extra fields a log record may carry into the JSON line."""

SAFE_SPAN_ATTRIBUTES = frozenset(
    {
        "http.request.method",
        "http.method",
        "http.route",
        "http.response.status_code",
        "http.status_code",
        "url.scheme",
        "network.protocol.version",
        "messaging.system",
        "messaging.operation.type",
        "messaging.destination.name",
        "messaging.destination.partition.id",
        "messaging.consumer.group.name",
        "messaging.batch.message_count",
        "error.type",
        "exception.type",
    }
)
"""Span attributes that may be exported, besides Kinship's own ``kinship.*`` attributes.

Kinship's attributes name kinds, channels, outcomes, severities and counts: never people.
"""

SAFE_METRIC_ATTRIBUTES = frozenset(
    {
        "topic",
        "partition",
        "severity",
        "outcome",
        "channel",
        "kind",
        "http.request.method",
        "http.method",
        "http.route",
        "http.response.status_code",
        "http.status_code",
        "url.scheme",
    }
)
"""Metric attributes that may be exported; any other attribute is dropped by a view."""

TRACER = trace.get_tracer("kinship")
METER = metrics.get_meter("kinship")

EVENTS_CONSUMED = METER.create_counter(
    "kinship.events.consumed", unit="{event}", description="Kafka records consumed, by topic."
)
EVENTS_PRODUCED = METER.create_counter(
    "kinship.events.produced", unit="{event}", description="Events published, by topic."
)
HANDLER_DURATION = METER.create_histogram(
    "kinship.handler.duration", unit="s", description="Time to handle one consumed batch."
)
_LAG: dict[tuple[str, int], int] = {}


def _observe_lag(_options: CallbackOptions) -> Iterable[Observation]:
    return [
        Observation(lag, {"topic": topic, "partition": partition})
        for (topic, partition), lag in list(_LAG.items())
    ]


METER.create_observable_gauge(
    "kinship.consumer.lag",
    callbacks=[_observe_lag],
    unit="{record}",
    description="Records behind the partition's end after the last batch, by topic and partition.",
)


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the current trace and span ids."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        for name in SAFE_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    # A library's repeated warnings (aiokafka while the broker is away) once a minute.
    handler.addFilter(LibraryRepeats())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that install their own plain-text handlers are routed through ours instead.
    for name in ("faststream", "faststream.access", "uvicorn", "uvicorn.error", "uvicorn.access"):
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True
    # Some libraries log what they carry: httpx every request's full URL at INFO (a webhook
    # URL can name a person or hold a secret path), httpcore headers and aiokafka whole
    # records at DEBUG. Their levels are capped so that never reaches a log, even at DEBUG.
    for name, floor in (("httpx", logging.WARNING), ("httpcore", logging.WARNING)):
        logging.getLogger(name).setLevel(floor)
    logging.getLogger("aiokafka").setLevel(max(logging.INFO, logging.getLevelName(level)))


def _safe(attributes: Attributes) -> dict[str, Any]:
    return {
        key: value
        for key, value in (attributes or {}).items()
        if key in SAFE_SPAN_ATTRIBUTES or key.startswith("kinship.")
    }


def safe_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` with only safe attributes, no event messages, no status text."""
    events = [Event(event.name, _safe(event.attributes), event.timestamp) for event in span.events]
    links = [Link(link.context, _safe(link.attributes)) for link in span.links]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_safe(span.attributes),
        events=events,
        links=links,
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class SafeSpanExporter(SpanExporter):
    """Exports spans through another exporter, keeping only what is safe to leave."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([safe_span(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _exporter_names(variable: str) -> list[str]:
    value = os.environ.get(variable, "otlp")
    return [name.strip() for name in value.split(",") if name.strip() and name.strip() != "none"]


def _span_exporter(name: str) -> SpanExporter:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER: unknown exporter {name!r} (otlp, console, none)")


def _metric_exporter(name: str) -> MetricExporter:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter()
    if name == "console":
        return ConsoleMetricExporter()
    raise ValueError(f"OTEL_METRICS_EXPORTER: unknown exporter {name!r} (otlp, console, none)")


def safe_views() -> list[View]:
    """A view over every instrument that keeps only ``SAFE_METRIC_ATTRIBUTES``."""
    return [View(instrument_name="*", attribute_keys=set(SAFE_METRIC_ATTRIBUTES))]


@dataclass
class Telemetry:
    """The providers a process set up (None: that signal is off); ``shutdown`` flushes them."""

    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def telemetry_resource(service: str) -> Resource:
    """``service.name`` is ``kinship-<service>`` unless ``OTEL_SERVICE_NAME`` says otherwise."""
    if os.environ.get("OTEL_SERVICE_NAME"):
        return Resource.create()
    return Resource.create({"service.name": f"kinship-{service}"})


def configure_telemetry(
    service: str,
    *,
    span_exporters: Sequence[SpanExporter] | None = None,
    metric_readers: Sequence[MetricReader] | None = None,
) -> Telemetry:
    """Set the process's tracer and meter providers from the ``OTEL_*`` variables.

    Tests pass their own exporters and readers instead; every span exporter is wrapped in
    ``SafeSpanExporter`` either way. A signal with no exporter keeps OpenTelemetry's no-op
    provider, which costs nothing and still passes incoming trace context on downstream.
    """
    resource = telemetry_resource(service)
    exporters = (
        span_exporters
        if span_exporters is not None
        else [_span_exporter(name) for name in _exporter_names("OTEL_TRACES_EXPORTER")]
    )
    tracer_provider = None
    if exporters:
        tracer_provider = TracerProvider(resource=resource)
        for exporter in exporters:
            tracer_provider.add_span_processor(BatchSpanProcessor(SafeSpanExporter(exporter)))
        trace.set_tracer_provider(tracer_provider)
    readers = (
        metric_readers
        if metric_readers is not None
        else [
            PeriodicExportingMetricReader(_metric_exporter(name))
            for name in _exporter_names("OTEL_METRICS_EXPORTER")
        ]
    )
    meter_provider = None
    if readers:
        meter_provider = MeterProvider(
            metric_readers=list(readers), resource=resource, views=safe_views()
        )
        metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider)


Headers = Sequence[tuple[str, bytes]]


def trace_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers (W3C ``traceparent``, ``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def context_from_headers(headers: Headers | None) -> Context | None:
    """The trace context a record carries, if any."""
    carrier = {
        name: value.decode(errors="replace")
        for name, value in headers or ()
        if name in ("traceparent", "tracestate") and value is not None
    }
    if "traceparent" not in carrier:
        return None
    return propagate.extract(carrier)


def traceparent_of(headers: Headers | None) -> str | None:
    """The ``traceparent`` header of a record, to keep with work done later (deliveries)."""
    for name, value in headers or ():
        if name == "traceparent" and value is not None:
            return value.decode(errors="replace")
    return None


def context_of_traceparent(traceparent: str | None) -> Context | None:
    """The trace context a stored ``traceparent`` names."""
    if not traceparent:
        return None
    return propagate.extract({"traceparent": traceparent})


MAX_LINKS = 32
"""A batch's span links at most this many other records' traces."""


def traced_contexts(records: Sequence[Any], most: int) -> list[Context]:
    """The trace contexts of the first ``most`` traced records (the rest are never extracted:
    a batch of thousands needs only the parent and the links)."""
    found: list[Context] = []
    for record in records:
        context = context_from_headers(getattr(record, "headers", None))
        if context is not None:
            found.append(context)
            if len(found) == most:
                break
    return found


def _records(message: StreamMessage[Any]) -> list[Any]:
    raw = message.raw_message
    return list(raw) if isinstance(raw, (list, tuple)) else [raw]


class TracingMiddleware(BaseMiddleware):
    """Each consumed batch in a ``process <topic>`` span continuing its first traced record's
    trace.

    Up to 32 other records' traces are linked. Also counts consumed records, times the
    handler and notes the consumer's lag after the batch.
    """

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        records = _records(msg)
        topic = str(getattr(records[0], "topic", "")) if records else ""
        found = traced_contexts(records, MAX_LINKS + 1)
        parent = found[0] if found else None
        links = [Link(trace.get_current_span(context).get_span_context()) for context in found[1:]]
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.batch.message_count": len(records),
        }
        started = time.perf_counter()
        with TRACER.start_as_current_span(
            f"process {topic}",
            context=parent,
            kind=SpanKind.CONSUMER,
            links=links,
            attributes=attributes,
        ):
            try:
                return await call_next(msg)
            finally:
                HANDLER_DURATION.record(time.perf_counter() - started, {"topic": topic})
                EVENTS_CONSUMED.add(len(records), {"topic": topic})
                _note_lag(getattr(msg, "consumer", None), records)


def _note_lag(consumer: object, records: Sequence[Any]) -> None:
    highwater = getattr(consumer, "highwater", None)
    if highwater is None or not records:
        return
    last: dict[tuple[str, int], int] = {}
    for record in records:
        last[(record.topic, record.partition)] = record.offset
    from aiokafka import TopicPartition

    for (topic, partition), offset in last.items():
        try:
            end = highwater(TopicPartition(topic, partition))
        except (AssertionError, KeyError, TypeError):
            continue
        if isinstance(end, int):
            _LAG[(topic, partition)] = max(0, end - offset - 1)


def span_attributes(values: Mapping[str, str | int | None]) -> dict[str, str | int]:
    """Kinship span attributes (``kinship.<name>``), leaving out unknown values."""
    return {f"kinship.{name}": value for name, value in values.items() if value is not None}
