""" "Time left" on My cases and the case page, from the escalation service's ``ack_due_at``
and ``contact_due_at`` (the audit branch's deadline work): to acknowledge while nobody has,
to make first contact once acknowledged, overdue once passed; nothing without a deadline."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient

from kinship_console.adapters.api import CaseSummary
from kinship_console.bootstrap import create_app
from kinship_console.clock import Clock
from tests.unit.console.cases_fakes import FakeCasesApi, sample_case
from tests.unit.console.conftest import Console, console_settings
from tests.unit.console.fakes import FakeProvider, MemorySessionStore


@pytest.fixture
def console() -> Iterator[Console]:
    clock = Clock()
    settings = console_settings()
    store = MemorySessionStore(timedelta(minutes=settings.console_session_idle_minutes), clock)
    api, provider = FakeCasesApi(), FakeProvider()
    app = create_app(settings, api=api, provider=provider, store=store, clock=clock, readiness={})
    with TestClient(app, base_url="https://127.0.0.1:8005") as client:
        yield Console(client, api, provider, store, clock)


def summary(case_id: str, status: str, **due: datetime) -> CaseSummary:
    opened = datetime.now(UTC) - timedelta(minutes=10)
    return CaseSummary(case_id=case_id, status=status, severity="high", opened_at=opened, **due)


def test_my_cases_show_the_time_left_to_acknowledge_and_to_reach(console: Console) -> None:
    now = datetime.now(UTC)
    console.api.cases = [
        summary("aaaa0001", "assigned", ack_due_at=now + timedelta(minutes=4, seconds=10)),
        summary("bbbb0002", "acknowledged", contact_due_at=now + timedelta(minutes=50)),
        summary("cccc0003", "acknowledged", contact_due_at=now - timedelta(minutes=1)),
        summary("dddd0004", "contacted"),
    ]
    console.sign_in()
    page = unescape(console.client.get("/cases").text)
    items = {case_id: page[page.index(f"Case {case_id}") :] for case_id in ("aaaa0001", "bbbb0002")}
    assert "4 minutes left to acknowledge" in items["aaaa0001"].split("</li>")[0]
    assert "50 minutes left to make first contact" in items["bbbb0002"].split("</li>")[0]
    overdue = page[page.index("Case cccc0003") :].split("</li>")[0]
    assert "First contact overdue: escalating" in overdue
    reached = page[page.index("Case dddd0004") :].split("</li>")[0]
    assert "Time left" not in reached and "left to" not in reached


def test_my_cases_in_german(console: Console) -> None:
    now = datetime.now(UTC)
    console.api.cases = [summary("aaaa0001", "assigned", ack_due_at=now + timedelta(hours=2))]
    console.sign_in()
    page = unescape(console.client.get("/cases", headers={"Accept-Language": "de"}).text)
    assert "Noch 2 Stunden bis zur Übernahme" in page


def test_the_case_page_shows_the_time_left(console: Console) -> None:
    assert isinstance(console.api, FakeCasesApi)
    now = datetime.now(UTC)
    console.api.details["c0ffee00-case"] = sample_case(
        status="assigned", ack_due_at=now + timedelta(minutes=3)
    )
    console.sign_in()
    meta = console.client.get("/cases/c0ffee00-case").text
    meta = unescape(meta[meta.index('class="case-meta"') :].split("</p>")[0])
    assert "3 minutes left to acknowledge" in meta
    console.api.details["c0ffee00-case"] = sample_case(status="contacted")
    meta = console.client.get("/cases/c0ffee00-case").text
    assert 'class="deadline"' not in meta
