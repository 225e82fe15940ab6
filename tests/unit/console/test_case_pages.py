"""The responder's case page over a fake escalation and check-in service."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from kinship_console.adapters.api import ConflictError, NotAllowedError, UnavailableError
from kinship_console.adapters.cases_api import CaseNote, RevealedPerson
from kinship_console.bootstrap import create_app
from kinship_console.clock import Clock
from tests.unit.console.cases_fakes import OPENED, FakeCasesApi, sample_case
from tests.unit.console.conftest import Console, console_settings
from tests.unit.console.fakes import FakeProvider, MemorySessionStore

CASE = "c0ffee00-case"


@pytest.fixture
def console() -> Iterator[Console]:
    clock = Clock()
    settings = console_settings()
    store = MemorySessionStore(timedelta(minutes=settings.console_session_idle_minutes), clock)
    api, provider = FakeCasesApi(), FakeProvider()
    api.details[CASE] = sample_case(CASE)
    app = create_app(settings, api=api, provider=provider, store=store, clock=clock, readiness={})
    with TestClient(app, base_url="https://127.0.0.1:8005") as client:
        yield Console(client, api, provider, store, clock)


def fake(console: Console) -> FakeCasesApi:
    assert isinstance(console.api, FakeCasesApi)
    return console.api


def post(console: Console, action: str, **form: str) -> httpx.Response:
    token = console.csrf(f"/cases/{CASE}")
    answer: httpx.Response = console.client.post(
        f"/cases/{CASE}/{action}", data={"csrf_token": token, **form}, follow_redirects=False
    )
    return answer


def working(console: Console, **changes: object) -> FakeCasesApi:
    """The signed-in responder holds the case, acknowledged."""
    api = fake(console)
    api.details[CASE] = sample_case(CASE, status="acknowledged", **changes)
    console.sign_in()
    return api


def test_the_case_page_explains_why_it_opened(console: Console) -> None:
    console.sign_in()
    page = console.client.get(f"/cases/{CASE}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Case c0ffee00</h1>" in text
    assert "Immediate risk" in text and "Reach out now." in text
    assert "PHQ-9 item 9 at 1 or more" in text and "Kroenke et al. 2001" in text
    assert "2026-12-01 08:58 UTC" in text, "the check-in's date"
    assert "PHQ-9 (0\u201327)" in text and ">17<" in text
    assert "kinship-default-2026.12" in text
    assert "Case opened" in text, "the timeline"
    assert page.headers["cache-control"] == "no-store"
    assert fake(console).called("case") == [(CASE,)]


def test_without_a_recorded_explanation_the_rules_and_missing_version_are_said(
    console: Console,
) -> None:
    api = fake(console)
    case = sample_case(CASE, rules=["poor_wellbeing"])
    api.details[CASE] = case.model_copy(
        update={
            "explanation": case.explanation.model_copy(
                update={"rules": [], "checkins": [], "rules_version": None}
            )
        }
    )
    console.sign_in()
    text = console.client.get(f"/cases/{CASE}").text
    assert "Poor wellbeing" in text and "Questionnaire scores suggest poor wellbeing." in text
    assert "The rules version was not recorded for this case." in text


def test_acknowledge_then_the_page_offers_reveal_contact_and_the_rest(console: Console) -> None:
    console.sign_in()
    first = console.client.get(f"/cases/{CASE}").text
    assert 'id="acknowledge"' in first and 'id="reveal"' not in first
    answer = post(console, "acknowledge")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/cases/{CASE}#flash"
    assert fake(console).case_calls[-1][:2] == ("acknowledge", "access-1")
    page = console.client.get(f"/cases/{CASE}").text
    assert "You have taken this case." in page
    assert 'id="acknowledge"' not in page and 'id="reveal"' in page
    for action in ("contact", "notes", "safety-plan", "follow-up", "handover", "resolve"):
        assert f'action="/cases/{CASE}/{action}"' in page
    assert "You have taken this case." not in console.client.get(f"/cases/{CASE}").text


def test_reveal_shows_the_person_once_and_keeps_nothing(console: Console) -> None:
    api = working(console)
    api.revealed = RevealedPerson(
        case_id=CASE,
        display_name="Ada Lovelace",
        channels={"email": "ada@example.org", "slack_user_id": "U024BE7LH"},
        timezone="Europe/London",
        note="Rough week, please call after 6.",
    )
    answer = post(console, "reveal")
    assert answer.status_code == 200
    text = answer.text
    assert "Ada Lovelace" in text
    # The two channels a reveal gives, each under its name.
    assert re.search(r"<dt>Email</dt><dd class=\"contact\">ada@example.org</dd>", text)
    assert re.search(r"<dt>Slack user ID</dt><dd class=\"contact\">U024BE7LH</dd>", text)
    assert "Europe/London" in text and "there now" in text
    assert "Rough week, please call after 6." in text
    assert answer.headers["cache-control"] == "no-store"
    assert api.called("reveal_grant") == [(CASE,)]
    assert api.called("reveal") == [(f"grant-for-{CASE}",)]
    stored = repr([row.data for row in console.store.rows.values()])
    assert "Ada Lovelace" not in stored and "grant-for" not in stored
    assert "Ada Lovelace" not in console.client.get(f"/cases/{CASE}").text


def test_reveal_is_not_offered_without_consent(console: Console) -> None:
    working(console, reveal_allowed=False, consent="asked")
    text = console.client.get(f"/cases/{CASE}").text
    assert 'id="reveal"' not in text and f"/cases/{CASE}/contact" not in text
    assert "no answer yet" in text


def test_contact_needs_a_channel_and_is_recorded_with_it(console: Console) -> None:
    api = working(console)
    refused = post(console, "contact")
    assert refused.status_code == 422
    assert "Choose how you made contact." in refused.text
    assert 'href="#q-contact-channel"' in refused.text
    assert 'aria-describedby="contact-channel-error"' in refused.text
    assert api.called("record_contact") == []
    assert post(console, "contact", channel="phone").status_code == 303
    assert api.called("record_contact") == [(CASE, "phone")]
    text = console.client.get(f"/cases/{CASE}").text
    assert "First contact recorded." in text and "Phone" in text


def test_notes_are_written_and_listed(console: Console) -> None:
    api = working(console)
    empty = post(console, "notes", text="   ")
    assert empty.status_code == 422 and "Write the note before saving it." in empty.text
    assert post(console, "notes", text="Called, will call again Friday.").status_code == 303
    assert api.called("add_note") == [(CASE, "Called, will call again Friday.")]
    text = console.client.get(f"/cases/{CASE}").text
    assert "Your note was saved." in text and "Called, will call again Friday." in text
    assert api.called("case_notes"), "the notes are read when the case has some"


def test_notes_are_not_read_when_there_are_none(console: Console) -> None:
    api = working(console)
    console.client.get(f"/cases/{CASE}")
    assert api.called("case_notes") == [], "each read is audited: no needless reads"


def test_a_note_too_long_keeps_the_text_and_says_why(console: Console) -> None:
    working(console)
    refused = post(console, "notes", text="x" * 4001)
    assert refused.status_code == 422 and "This is too long." in refused.text
    assert "x" * 4001 in refused.text


def test_a_safety_plan_only_on_critical_cases(console: Console) -> None:
    api = working(console, severity="medium")
    assert f"/cases/{CASE}/safety-plan" not in console.client.get(f"/cases/{CASE}").text
    api.details[CASE] = sample_case(CASE, status="acknowledged")
    missing = post(console, "safety-plan", who_to_call="Sister, 0123")
    assert missing.status_code == 422 and "Fill in both parts" in missing.text
    saved = post(console, "safety-plan", who_to_call="Sister, 0123", what_helps="A walk")
    assert saved.status_code == 303
    assert api.called("write_safety_plan") == [(CASE, "Sister, 0123", "A walk")]
    text = console.client.get(f"/cases/{CASE}").text
    assert "The safety plan was saved." in text and "A walk" in text


def test_hand_over_to_a_person_needs_their_id(console: Console) -> None:
    api = working(console)
    refused = post(console, "handover", to="person", reason="workload")
    assert refused.status_code == 422
    assert "Enter the Kinship id of the responder" in refused.text
    assert 'href="#q-handover-to_person_id"' in refused.text
    no_reason = post(console, "handover", to="rotation")
    assert no_reason.status_code == 422 and "Choose a reason." in no_reason.text
    assert api.called("hand_over") == []
    done = post(console, "handover", to="person", to_person_id="sam", reason="workload")
    assert done.status_code == 303 and done.headers["location"] == "/cases/handed-over"
    assert api.called("hand_over") == [(CASE, "sam", "workload", None)]
    assert "The case was handed over" in console.client.get("/cases/handed-over").text


def test_hand_over_back_to_the_rotation_with_a_note(console: Console) -> None:
    api = working(console)
    post(console, "handover", to="rotation", reason="unavailable", note="Away from tonight")
    assert api.called("hand_over") == [(CASE, None, "unavailable", "Away from tonight")]


def test_a_follow_up_is_planned_from_now(console: Console) -> None:
    api = working(console)
    assert post(console, "follow-up", when="someday").status_code == 422
    before = datetime.now(UTC)
    assert post(console, "follow-up", when="1w").status_code == 303
    ((case_id, at),) = api.called("plan_follow_up")
    assert case_id == CASE
    assert before + timedelta(weeks=1) <= at <= datetime.now(UTC) + timedelta(weeks=1)
    assert "Follow-up planned" in console.client.get(f"/cases/{CASE}").text


def test_resolve_with_an_outcome(console: Console) -> None:
    api = working(console)
    refused = post(console, "resolve", outcome="fine")
    assert refused.status_code == 422 and "Choose how the case ended." in refused.text
    assert post(console, "resolve", outcome="supported").status_code == 303
    assert api.called("resolve") == [(CASE, "supported")]
    text = console.client.get(f"/cases/{CASE}").text
    assert "The case is resolved. Thank you." in text and "This case is resolved." in text
    assert f"/cases/{CASE}/resolve" not in text


def test_a_case_held_by_someone_else_offers_nothing(console: Console) -> None:
    working(console, responder_id="sam")
    text = console.client.get(f"/cases/{CASE}").text
    assert "Another responder holds this case." in text
    assert '<form method="post" action="/cases/' not in text


def test_a_conflict_shows_the_case_as_it_is_now(console: Console) -> None:
    api = working(console)
    api.action_error = ConflictError("escalation", 409)
    answer = post(console, "contact", channel="chat")
    assert answer.status_code == 409
    assert "the case changed meanwhile" in answer.text and "<h1>Case c0ffee00</h1>" in answer.text


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (NotAllowedError("escalation", 403), 403, "Not available to you"),
        (UnavailableError("escalation"), 503, "Kinship is not available right now"),
    ],
)
def test_refusals_of_an_action_become_page_states(
    console: Console, error: Exception, status: int, title: str
) -> None:
    api = working(console)
    api.action_error = error  # type: ignore[assignment]
    answer = post(console, "resolve", outcome="supported")
    assert answer.status_code == status and title in answer.text
    assert "The case was not resolved." in answer.text


def test_an_unknown_case_is_not_found(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/cases/nope")
    assert page.status_code == 404 and "The case could not be shown." in page.text


def test_actions_need_the_csrf_token(console: Console) -> None:
    api = working(console)
    answer = console.client.post(f"/cases/{CASE}/resolve", data={"outcome": "supported"})
    assert answer.status_code == 403
    assert api.called("resolve") == []


def test_the_case_page_needs_sign_in_and_comes_back_to_it(console: Console) -> None:
    answer = console.client.get(f"/cases/{CASE}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/signin?next=/cases/{CASE}"


def test_notes_that_cannot_be_read_are_said_and_the_page_still_shows(console: Console) -> None:
    api = working(console, notes=2)
    api.notes_of[CASE] = [CaseNote(note_id="n1", written_at=OPENED, text="x")]

    async def broken(token: str, case_id: str) -> object:
        raise UnavailableError("escalation")

    api.case_notes = broken  # type: ignore[method-assign,assignment]
    page = console.client.get(f"/cases/{CASE}")
    assert page.status_code == 200 and "The notes could not be shown right now." in page.text


@pytest.mark.parametrize(
    ("status", "responder", "acknowledge"),
    [
        ("assigned", "ada", True),  # alerted or handed the case, not taken it yet
        ("resolved", "rosa", False),  # a coordinator reading a case someone resolved
        ("acknowledged", "rosa", False),  # a coordinator reading a case someone holds
    ],
)
def test_notes_the_service_refuses_are_said_to_be_for_the_cases_responders(
    console: Console, status: str, responder: str, acknowledge: bool
) -> None:
    """A coordinator, or a responder who has not taken the case: the page says why, and
    neither shows the notes nor claims a failure; it asks to acknowledge the case only
    when the person can."""
    api = fake(console)
    api.details[CASE] = sample_case(CASE, status=status, responder_id=responder, notes=2)
    console.sign_in()
    api.notes_of[CASE] = [CaseNote(note_id="n1", written_at=OPENED, text="called her")]

    async def refused(token: str, case_id: str) -> object:
        raise NotAllowedError("escalation", 403)

    api.case_notes = refused  # type: ignore[method-assign,assignment]
    page = console.client.get(f"/cases/{CASE}")
    assert page.status_code == 200
    assert "The notes are for the case's responders only" in page.text
    assert ("acknowledge the case to read them" in page.text) is acknowledge
    assert ('id="acknowledge"' in page.text) is acknowledge
    assert "could not be shown" not in page.text and "called her" not in page.text


def test_the_case_page_in_german(console: Console) -> None:
    console.sign_in()
    page = console.client.get(f"/cases/{CASE}", headers={"Accept-Language": "de-DE"})
    assert "Warum er eröffnet wurde" in page.text
    assert "Ich übernehme diesen Fall" in page.text


def test_no_inline_script_or_style_on_the_case_page(console: Console) -> None:
    working(console)
    text = console.client.get(f"/cases/{CASE}").text
    assert "<script>" not in text and "style=" not in text and "<style" not in text
    assert re.search(r"\son\w+=", text) is None


def test_a_hand_over_the_service_refuses_is_explained_on_the_case_page(console: Console) -> None:
    api = working(console)
    api.action_error = NotAllowedError("escalation", 403)
    answer = post(console, "handover", to="person", to_person_id="nobody", reason="workload")
    assert answer.status_code == 403
    assert "is the id a peer responder" in answer.text and "<h1>Case c0ffee00</h1>" in answer.text
