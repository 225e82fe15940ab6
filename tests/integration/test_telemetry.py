"""OpenTelemetry across services, against the real broker and database.

One check-in over HTTP must give one connected trace through every Kafka hop to the
responder's webhook, and nothing personal may leave in spans, metrics or logs.
"""

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from kinship_checkin.composition import create_app as create_checkin_app
from kinship_checkin.settings import CheckinSettings
from kinship_runtime.telemetry import Telemetry, configure_logging, configure_telemetry
from tests.conftest import Endpoints
from tests.database import InProcessService
from tests.escalation_support import AUTH, SUBJECTS, Starter, encode_person, seed_directory
from tests.integration.conftest import NotificationStarter
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.integration

PERSON = "pii-person-7f3a9"
RESPONDER = "pii-responder-c0ffee"
DISPLAY_NAME = PERSON.title()  # as the directory record gives it
NOTE = "pii-note: I cannot sleep since the accident"
LANES = ("wellbeing.checkins.urgent", "wellbeing.checkins.recorded")
PLANTED = (PERSON, RESPONDER, DISPLAY_NAME, NOTE, SUBJECTS.subject_id(PERSON))


@pytest.fixture(scope="module")
def telemetry() -> Iterator[tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader]]:
    """The process's providers, exporting to memory through the same safe exporters."""
    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    providers = configure_telemetry("tests", span_exporters=[spans], metric_readers=[metrics])
    yield providers, spans, metrics
    providers.shutdown()


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Every log record of the test as the services print it: their set-up, at DEBUG."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("tests", "DEBUG")
    output = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(output)
    yield output
    root.handlers[:] = handlers
    root.setLevel(level)


@asynccontextmanager
async def checkin_service(
    service_env: dict[str, str], endpoints: Endpoints
) -> AsyncIterator[InProcessService[CheckinSettings]]:
    settings = CheckinSettings(database_schema=f"{service_env['KINSHIP_DATABASE_SCHEMA']}_c")
    app = create_checkin_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c") as client,
    ):
        yield InProcessService(client, settings, endpoints)


def span_path(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """The span and its ancestors, up to the root (or the first one not exported)."""
    path = [span]
    while path[-1].parent is not None and path[-1].parent.span_id in by_id:
        path.append(by_id[path[-1].parent.span_id])
    return path


async def test_one_checkin_gives_one_trace_to_the_webhook_and_no_personal_data_leaves(
    telemetry: tuple[Telemetry, InMemorySpanExporter, InMemoryMetricReader],
    json_logs: io.StringIO,
    service_env: dict[str, str],
    endpoints: Endpoints,
    start_escalation: Starter,
    start_notifications: NotificationStarter,
    webhooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    providers, exporter, reader = telemetry
    assert providers.tracer_provider is not None
    exporter.clear()
    staff = [
        encode_person(RESPONDER, "team-r", {"webhook": webhooks.url(RESPONDER)}, "peer_responder"),
        encode_person(PERSON, "team-x", {"webhook": webhooks.url(PERSON)}),
    ]
    async with (
        start_escalation() as escalation,
        start_notifications() as notifications,
        checkin_service(service_env, endpoints) as checkin,
    ):
        await seed_directory(escalation, staff)
        assert await notifications.wait_for("SELECT count(*) FROM directory_people", 2) == 2
        submitted = await checkin.client.post(
            "/v1/checkins",
            headers=AUTH,
            json={
                "id": "c-traced",
                "person_id": PERSON,
                "occurred_at": datetime.now(UTC).isoformat(),
                "source": "tests",
                "phq9": [1, 1, 1, 1, 1, 1, 1, 1, 2],
                "note": NOTE,
            },
        )
        assert submitted.status_code == 202, submitted.text
        deadline = time.monotonic() + 30
        while not webhooks.accepted(RESPONDER) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        alerts = webhooks.accepted(RESPONDER)
        assert len(alerts) == 1, "the responder is alerted once"

    providers.tracer_provider.force_flush()
    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    (request,) = [s for s in spans if s.name == "POST /v1/checkins" and s.kind.name == "SERVER"]
    trace_id = request.context.trace_id

    # The webhook call carried the trace: the responder's system could continue it.
    traceparent = alerts[0].headers["traceparent"]
    assert traceparent.split("-")[1] == format(trace_id, "032x")

    # From the webhook call back to the HTTP check-in, parent by parent: one connected trace.
    (call,) = [
        s
        for s in spans
        if s.kind.name == "CLIENT" and format(s.context.span_id, "016x") in traceparent
    ]
    chain = span_path(call, by_id)
    path = [span.name for span in chain]
    assert path[-1] == "POST /v1/checkins", path
    assert "deliver alert" in path
    lanes = {f"process {checkin.topic(lane)}" for lane in LANES}
    assert lanes & set(path), path
    assert all(span.context.trace_id == trace_id for span in chain)
    # The notifications consumer queued the request in the same trace, beside the delivery:
    # both continue the escalation span that published the request.
    queued = f"process {checkin.topic('notifications.requests')}"
    (consumer,) = [s for s in spans if s.name == queued and s.context.trace_id == trace_id]
    deliver = next(span for span in chain if span.name == "deliver alert")
    assert consumer.parent is not None and deliver.parent is not None
    assert consumer.parent.span_id == deliver.parent.span_id
    print(" <- ".join(path))

    # Nothing personal in what was exported: span names, attributes, events, links; metric
    # points and their attributes; the JSON log lines.
    metrics = reader.get_metrics_data()
    assert metrics is not None
    spans_json = json.dumps([json.loads(span.to_json()) for span in spans])
    exported = spans_json + metrics.to_json() + json_logs.getvalue()
    assert "kinship.events.consumed" in exported and "kinship.cases.opened" in exported
    assert "kinship.deliveries" in exported and "trace_id" in json_logs.getvalue()
    sources = {"spans": spans_json, "metrics": metrics.to_json(), "logs": json_logs.getvalue()}
    leaks = [
        (planted, where)
        for planted in PLANTED
        for where, text in sources.items()
        if planted.lower() in text.lower()
    ]
    assert leaks == [], f"personal data exported: {leaks}"
    assert "url.full" not in exported and webhooks.url(RESPONDER) not in exported
