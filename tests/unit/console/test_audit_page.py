"""The coordinator's audit page over a fake escalation service: the table, the filters as
a GET form passed on to the service, the "older" link carrying the cursor and the filters,
German strings, and refusal for anyone the service does not let in."""

from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape

import pytest

from kinship_console.adapters.api import NotAllowedError
from kinship_console.adapters.cases_api import AuditEntry, AuditPage, AuditQuery
from kinship_console.entrypoints.coordinator import audit_query
from tests.unit.console.cases_fakes import FakeCasesApi
from tests.unit.console.conftest import Console, console_as

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def console() -> Iterator[Console]:
    yield from console_as("cora", ["coordinator"])


def fake(console: Console) -> FakeCasesApi:
    assert isinstance(console.api, FakeCasesApi)
    return console.api


def table(page: str) -> str:
    """The audit table of a page (the filter's action list names every action too)."""
    return unescape(page[page.index("<table") : page.index("</table>")])


def trail() -> list[AuditEntry]:
    return [
        AuditEntry(seq=1, at=AT, action="opened", actor="detection", case_id="abcdef12-case"),
        AuditEntry(
            seq=2, at=AT, action="acknowledged", actor="person:ada", case_id="abcdef12-case"
        ),
        AuditEntry(seq=3, at=AT, action="list", actor="person:cora", cases=4),
        AuditEntry(seq=4, at=AT, action="policy_changed", actor="person:cora"),
        AuditEntry(seq=5, at=AT, action="read", actor="person:cora", case_id="abcdef12-case"),
    ]


def test_the_audit_page_lists_the_newest_records_with_an_older_link(console: Console) -> None:
    api = fake(console)
    api.audit_entries = trail()
    console.sign_in()
    page = console.client.get("/coordinator/audit")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = table(page.text)
    assert text.index("Case read") < text.index("Escalation policy saved") < text.index("4 cases")
    assert "Acknowledged" not in text, "three records a page in the fake"
    assert 'href="/cases/abcdef12-case"' in text and "Case abcdef12" in text
    assert "2026-12-01 09:30 UTC" in text
    assert 'href="/coordinator/audit?before=3"' in page.text
    assert 'href="/coordinator/audit" aria-current="page"' in page.text
    (query,) = api.called("audit")
    assert query == (AuditQuery(),)

    older = console.client.get("/coordinator/audit?before=3").text
    rows = table(older)
    assert "Acknowledged" in rows and "Case opened" in rows and "detection" in rows
    assert "Older records" not in older
    assert 'href="/coordinator/audit">Newest records' in older


def test_filters_go_to_the_service_and_stay_on_the_older_link(console: Console) -> None:
    api = fake(console)
    api.audit_entries = [
        AuditEntry(seq=n, at=AT, action="read", actor="person:ada", case_id="c-1")
        for n in range(1, 6)
    ]
    console.sign_in()
    page = console.client.get(
        "/coordinator/audit", params={"case_id": " c-1 ", "actor": "ada", "action": "read"}
    )
    assert page.status_code == 200
    (query,) = api.called("audit")
    assert query == (AuditQuery("c-1", "person:ada", "read"),)
    assert 'href="/coordinator/audit?case_id=c-1&amp;actor=ada&amp;action=read&amp;before=3"' in (
        page.text
    )
    assert 'id="filter-actor" name="actor" value="ada"' in page.text
    assert '<option value="read" selected>' in page.text
    none = console.client.get("/coordinator/audit", params={"actor": "nobody"})
    assert "No audit records match." in none.text


def test_the_query_string_is_trimmed_and_a_bad_cursor_ignored() -> None:
    assert audit_query({"actor": "detection", "before": "x"}) == AuditQuery(actor="detection")
    assert audit_query({"actor": "system:hr", "before": "0"}) == AuditQuery(actor="system:hr")
    assert audit_query({"case_id": "a" * 300, "before": "12"}) == AuditQuery("a" * 200, before=12)


def test_the_audit_page_speaks_german(console: Console) -> None:
    fake(console).audit_entries = trail()
    console.sign_in()
    page = console.client.get("/coordinator/audit", headers={"Accept-Language": "de"})
    text = unescape(page.text)
    assert "Protokoll" in text and "Eskalationsregel gespeichert" in table(page.text)
    assert "Ältere Einträge" in text


def test_the_coordinator_pages_link_to_the_audit_log(console: Console) -> None:
    console.sign_in()
    assert 'href="/coordinator/audit"' in console.client.get("/coordinator").text


def test_someone_the_service_refuses_is_told_it_is_not_available(console: Console) -> None:
    api = fake(console)

    async def refused(token: str, query: AuditQuery) -> AuditPage:
        raise NotAllowedError("escalation", 403)

    api.audit = refused  # type: ignore[method-assign]
    console.sign_in()
    page = console.client.get("/coordinator/audit")
    assert page.status_code == 403 and "Not available to you" in page.text
