"""The employee's pages over fakes: WHO-5 alone, sharing a note, reaching out, the outreach
preference, kudos, the streak, and my data (download, erase with confirmation, status)."""

import json
import re
from datetime import UTC, date, datetime

import pytest

from kinship_console.adapters.api import (
    ErasureProgress,
    Me,
    PersonFound,
    RejectedError,
    Streak,
    UnavailableError,
)
from tests.unit.console.conftest import Console


def hidden(page_text: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page_text)
    assert found is not None, f"no hidden {name}"
    return found.group(1)


def form_of(console: Console, path: str, **answers: str) -> dict[str, str]:
    page = console.client.get(path)
    assert page.status_code == 200
    values = {"csrf_token": hidden(page.text, "csrf_token"), **answers}
    if 'name="submission_id"' in page.text:
        values["submission_id"] = hidden(page.text, "submission_id")
    return values


# Check in --------------------------------------------------------------------------


def test_who5_alone_asks_only_the_five_statements(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/checkin", params={"instrument": "who5"})
    assert "<h1>Wellbeing check-in (WHO-5)</h1>" in page.text
    assert page.text.count('type="radio"') == 5 * 6
    assert 'name="mood"' not in page.text and 'name="phq9_1"' not in page.text
    assert 'name="instrument" value="who5"' in page.text


def test_who5_alone_is_sent_as_a_who5_check_in(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/checkin?instrument=who5", instrument="who5")
    form |= {f"who5_{n}": str(n) for n in range(1, 6)}
    answer = console.client.post("/checkin", data=form, follow_redirects=False)
    assert answer.status_code == 303
    ((_token, sent),) = console.api.checkins
    assert sent.who5 == [1, 2, 3, 4, 5]
    assert (sent.mood, sent.phq9, sent.wants_contact) == (None, None, False)


def test_who5_alone_needs_all_five(console: Console) -> None:
    console.sign_in()
    empty = console.client.post(
        "/checkin", data=form_of(console, "/checkin?instrument=who5", instrument="who5")
    )
    assert empty.status_code == 422
    assert "Answer all five wellbeing statements." in empty.text
    assert 'name="instrument" value="who5"' in empty.text, "the short form is shown again"
    assert console.api.checkins == []


@pytest.mark.parametrize(
    ("note", "share", "shared"), [("hard week", "yes", True), ("", "yes", False)]
)
def test_a_note_is_shared_only_when_the_person_ticks_the_box_and_wrote_one(
    console: Console, note: str, share: str, shared: bool
) -> None:
    console.sign_in()
    form = form_of(console, "/checkin", mood="3", note=note, share_note=share)
    assert console.client.post("/checkin", data=form, follow_redirects=False).status_code == 303
    ((_token, sent),) = console.api.checkins
    assert sent.share_note is shared


def test_a_note_without_the_box_is_not_shared(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/checkin", mood="3", note="private")
    console.client.post("/checkin", data=form, follow_redirects=False)
    ((_token, sent),) = console.api.checkins
    assert (sent.note, sent.share_note) == ("private", False)


# Reach out ----------------------------------------------------------------------------


def test_reach_out_asks_for_contact_with_a_shared_note(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/reach-out")
    assert "<h1>I\u2019d like someone to reach out</h1>" in page.text
    form = form_of(console, "/reach-out", note="please call", share_note="yes")
    answer = console.client.post("/reach-out", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/checkin/done"
    ((token, sent),) = console.api.checkins
    assert token == "access-1" and sent.person_id == "ada"
    assert (sent.wants_contact, sent.note, sent.share_note) == (True, "please call", True)
    assert sent.mood is None
    assert "A peer responder will reach out to you." in console.client.get("/checkin/done").text


def test_reach_out_sent_twice_is_one_request(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/reach-out")
    console.client.post("/reach-out", data=form, follow_redirects=False)
    console.client.post("/reach-out", data=form, follow_redirects=False)
    first, second = console.api.checkins
    assert first[1].id == second[1].id, "the same submission id: the service records one"


def test_reach_out_with_a_note_too_long_is_explained(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/reach-out", note="x" * 2001)
    answer = console.client.post("/reach-out", data=form)
    assert answer.status_code == 422
    assert "Keep the note to 2,000 characters or fewer." in answer.text
    assert console.api.checkins == []


# Outreach preference ----------------------------------------------------------------


def test_outreach_shows_the_current_choice_explained(console: Console) -> None:
    console.sign_in()
    console.api.outreach_preference = "resources_only"
    page = console.client.get("/outreach")
    assert page.status_code == 200
    assert re.search(r'value="resources_only"[^>]*checked', page.text)
    assert not re.search(r'value="ask_first"[^>]*checked', page.text)
    for label in ("A peer may reach out to me", "Ask me first", "Only show me resources"):
        assert label in page.text
    assert "immediate danger" in page.text, "the override is said in plain words"


def test_outreach_choice_is_saved_as_the_person(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/outreach", preference="welcome")
    answer = console.client.post("/outreach", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/outreach"
    assert ("set_outreach", "welcome") in console.api.calls
    page = console.client.get("/outreach")
    assert "Your outreach preference was saved." in page.text
    assert re.search(r'value="welcome"[^>]*checked', page.text)
    assert "was saved" not in console.client.get("/outreach").text, "the notice shows once"


def test_an_unknown_outreach_choice_is_refused_here(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/outreach", preference="always")
    answer = console.client.post("/outreach", data=form)
    assert answer.status_code == 422
    assert "Choose one of the three options." in answer.text
    assert not [call for call in console.api.calls if call[0] == "set_outreach"]


# Kudos ------------------------------------------------------------------------------


def colleagues(console: Console) -> None:
    console.api.people = [
        PersonFound(person_id="ben", display_name="Ben"),
        PersonFound(person_id="ada", display_name="Ada"),
        PersonFound(person_id="bea", display_name="Bea"),
    ]


def test_kudos_search_lists_colleagues_but_never_the_sender(console: Console) -> None:
    console.sign_in()
    colleagues(console)
    page = console.client.get("/kudos", params={"q": "a"})
    assert "Type at least two letters" in page.text
    assert not [call for call in console.api.calls if call[0] == "find_people"]
    console.api.people.append(PersonFound(person_id="ada", display_name="Bada"))
    page = console.client.get("/kudos", params={"q": "b"})
    assert "Type at least two letters" in page.text
    page = console.client.get("/kudos", params={"q": "be"})
    assert ("find_people", "be") in console.api.calls
    assert 'value="ben"' in page.text and 'value="bea"' in page.text
    assert 'value="ada"' not in page.text


def test_kudos_are_sent_from_the_person_to_the_chosen_colleague(console: Console) -> None:
    console.sign_in()
    colleagues(console)
    form = form_of(console, "/kudos?q=ben", q="ben", to_person_id="ben", message="Thanks!")
    answer = console.client.post("/kudos", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/kudos"
    ((token, sent),) = console.api.kudos
    assert token == "access-1"
    assert (sent.from_person_id, sent.to_person_id, sent.message) == ("ada", "ben", "Thanks!")
    assert sent.id == form["submission_id"]
    assert "Your kudos were sent." in console.client.get("/kudos").text


@pytest.mark.parametrize(
    ("to", "message", "sentence"),
    [
        ("ada", "me!", "you cannot send them to yourself"),
        ("", "Thanks", "Choose the colleague you want to thank."),
        ("ben", "   ", "Write a few words of thanks."),
        ("ben", "x" * 501, "Keep the message to 500 characters or fewer."),
    ],
)
def test_kudos_that_cannot_be_sent_are_explained(
    console: Console, to: str, message: str, sentence: str
) -> None:
    console.sign_in()
    colleagues(console)
    form = form_of(console, "/kudos?q=be", q="be", to_person_id=to, message=message)
    answer = console.client.post("/kudos", data=form)
    assert answer.status_code == 422
    assert sentence in answer.text
    assert 'class="error-summary"' in answer.text
    assert console.api.kudos == []


def test_kudos_need_the_csrf_token(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/kudos?q=be", to_person_id="ben", message="Thanks")
    form["csrf_token"] = "forged"
    assert console.client.post("/kudos", data=form).status_code == 403
    assert console.api.kudos == []


def test_too_many_searches_say_so(console: Console) -> None:
    console.sign_in()
    console.api.error = RejectedError("checkin", 429)
    page = console.client.get("/kudos", params={"q": "ben"})
    assert page.status_code == 429
    assert "Too many requests" in page.text


# Streak -------------------------------------------------------------------------------


def test_streak_shows_current_and_longest_weeks(console: Console) -> None:
    console.sign_in()
    console.api.streak = Streak(
        current_weeks=3, longest_weeks=7, last_week=date(2026, 11, 23), weeks_with_checkin=12
    )
    page = console.client.get("/streak")
    assert "3 weeks" in page.text and "7 weeks" in page.text
    assert "Nov 23, 2026" in page.text
    german = console.client.get("/streak", headers={"Accept-Language": "de"})
    assert "3 Wochen" in german.text and "23.11.2026" in german.text


def test_no_streak_yet_invites_a_check_in(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/streak")
    assert "0 weeks" in page.text
    assert "You have not checked in yet." in page.text


# My data ------------------------------------------------------------------------------


def test_download_gathers_every_service_as_the_person(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/me/data")
    assert 'href="/me/data.json"' in page.text
    answer = console.client.get("/me/data.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in answer.headers["cache-control"]
    body = json.loads(answer.text)
    assert body["person_id"] == "ada"
    assert list(body["services"]) == ["checkin", "recognition", "notifications", "escalation"]
    assert body["services"]["escalation"]["items"] == ["escalation-item"]


def test_a_download_missing_a_service_is_not_offered_as_complete(console: Console) -> None:
    console.sign_in()
    console.api.data_errors["notifications"] = UnavailableError("notifications", 503)
    answer = console.client.get("/me/data.json")
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "could not be gathered from every service" in answer.text


def test_erasure_needs_a_confirmation(console: Console) -> None:
    console.sign_in()
    page = console.client.get("/me/erase")
    assert 'action="/me/erase"' in page.text and 'name="confirm"' in page.text
    refused = console.client.post("/me/erase", data=form_of(console, "/me/erase"))
    assert refused.status_code == 422
    assert "Tick the box to confirm" in refused.text
    assert console.api.erasure_requests == []


def test_a_confirmed_erasure_starts_and_shows_its_status(console: Console) -> None:
    console.sign_in()
    form = form_of(console, "/me/erase", confirm="yes")
    answer = console.client.post("/me/erase", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/me/erasure/er-0001"
    assert console.api.erasure_requests == [("access-1", "ada")]
    console.api.erasure_progress = ErasureProgress(
        erasure_id="er-0001",
        requested_at=datetime(2026, 11, 29, 10, 0, tzinfo=UTC),
        complete=False,
        services={
            "escalation": None,
            "checkin": datetime(2026, 11, 29, 10, 0, 1, tzinfo=UTC),
            "recognition": None,
            "notifications": None,
        },
    )
    status = console.client.get("/me/erasure/er-0001")
    assert "Your data is being erased." in status.text
    rows = re.findall(r'<th scope="row">([^<]+)</th>\s*<td>([^<]+)</td>', status.text)
    assert [name for name, _ in rows] == [
        "Check-ins",
        "Kudos and streaks",
        "Messages",
        "Peer support cases",
    ]
    assert rows[0][1].startswith("Erased at") and rows[3][1] == "Pending"
    assert 'href="/me/erasure/er-0001"' in console.client.get("/me/data").text


def test_a_complete_erasure_says_done(console: Console) -> None:
    console.sign_in()
    done = datetime(2026, 11, 29, 10, 0, 2, tzinfo=UTC)
    console.api.erasure_progress = ErasureProgress(
        erasure_id="er-9",
        requested_at=done,
        complete=True,
        services=dict.fromkeys(("checkin", "escalation", "notifications", "recognition"), done),
    )
    page = console.client.get("/me/erasure/er-9")
    assert "Done: every part of Kinship has erased your data." in page.text
    assert "Pending" not in page.text
    assert console.client.get("/me/erasure/er-other").status_code == 404


# Navigation by role -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "trends", "cases"),
    [
        (Me(person_id="ada", roles=[]), False, False),
        (Me(person_id="mia", roles=["team_manager"], managed_teams=["platform"]), True, False),
        (Me(person_id="rosa", roles=["peer_responder"]), False, True),
    ],
)
def test_the_navigation_and_start_page_follow_the_directory_roles(
    console: Console, person: Me, trends: bool, cases: bool
) -> None:
    console.api.person = person
    console.sign_in()
    page = console.client.get("/")
    for href in ("/checkin", "/reach-out", "/outreach", "/kudos", "/streak", "/me/data"):
        assert f'href="{href}"' in page.text
    assert ('href="/teams"' in page.text) is trends
    assert ('href="/cases"' in page.text) is cases


def test_the_start_page_still_offers_the_employee_pages_when_roles_are_unknown(
    console: Console,
) -> None:
    console.api.me_error = UnavailableError("checkin", 503)
    console.sign_in()
    page = console.client.get("/")
    assert page.status_code == 200
    assert 'href="/checkin"' in page.text and 'href="/teams"' not in page.text
