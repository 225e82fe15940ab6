"""The console's pages over fakes: sign-in, sessions, CSRF, the check-in, My cases, states."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from kinship_console.adapters.api import (
    ApiError,
    CaseSummary,
    CheckinReceipt,
    NotAllowedError,
    NotFoundError,
    NotSignedInError,
    RejectedError,
    SupportResource,
    UnavailableError,
)
from kinship_console.entrypoints.pages import safe_next
from tests.unit.console.conftest import Console

COOKIE = "kinship-session"


def checkin_form(console: Console, **answers: str) -> dict[str, str]:
    return {"csrf_token": console.csrf(), "submission_id": console.submission_id(), **answers}


def test_anonymous_visitor_sees_sign_in_and_gets_no_session(console: Console) -> None:
    page = console.client.get("/")
    assert page.status_code == 200
    assert 'href="/signin"' in page.text
    assert "set-cookie" not in page.headers
    assert len(console.store.rows) == 0


def test_pages_need_sign_in_and_return_to_the_page_after_it(console: Console) -> None:
    asked = console.client.get("/checkin", follow_redirects=False)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/signin?next=/checkin"
    console.sign_in("/checkin")
    page = console.client.get("/checkin")
    assert page.status_code == 200
    assert "<h1>Check in</h1>" in page.text


def test_sign_in_gives_a_new_session_id_and_the_old_one_stops_working(console: Console) -> None:
    console.client.get("/signin", follow_redirects=False)
    before = console.client.cookies[COOKIE]
    console.sign_in()
    after = console.client.cookies[COOKIE]
    assert before != after
    console.client.cookies.set(COOKIE, before)
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_next_after_sign_in_is_never_another_site() -> None:
    assert safe_next("//127.0.0.2/x") == "/"
    assert safe_next("http://127.0.0.2/x") == "/"
    assert safe_next("/\\127.0.0.2") == "/"
    assert safe_next("/cases") == "/cases"
    assert safe_next(None) == "/"


def test_callback_with_a_state_that_does_not_match_is_refused(console: Console) -> None:
    console.client.get("/signin", follow_redirects=False)
    answer = console.client.get("/auth/callback", params={"state": "forged", "code": "c"})
    assert answer.status_code == 400
    assert "Sign-in did not complete" in answer.text
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_account_without_a_person_id_is_not_signed_in(console: Console) -> None:
    console.provider.person_id = None
    started = console.client.get("/signin", follow_redirects=False)
    state = re.search(r"state=([^&]+)", started.headers["location"])
    assert state is not None
    answer = console.client.get("/auth/callback", params={"state": state.group(1), "code": "c"})
    assert answer.status_code == 403
    assert "not linked to Kinship" in answer.text
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_sign_in_asks_the_provider_in_the_browser_language(console: Console) -> None:
    started = console.client.get(
        "/signin", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}, follow_redirects=False
    )
    assert "ui_locales=de" in started.headers["location"]


def test_checkin_is_sent_as_the_signed_in_person_with_their_token(console: Console) -> None:
    console.sign_in()
    form = checkin_form(
        console,
        mood="2",
        stress="4",
        energy="3",
        **{f"who5_{n}": "2" for n in range(1, 6)},
        note="  rough week  ",
        wants_contact="yes",
    )
    answer = console.client.post("/checkin", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/checkin/done"
    ((token, sent),) = console.api.checkins
    assert token == "access-1"
    assert sent.person_id == "ada"
    assert sent.id == form["submission_id"]
    assert (sent.mood, sent.stress, sent.energy) == (2, 4, 3)
    assert sent.who5 == [2, 2, 2, 2, 2]
    assert sent.phq9 is None
    assert sent.note == "rough week"
    assert sent.wants_contact is True
    assert sent.source == "kinship-console"
    done = console.client.get("/checkin/done")
    assert "your check-in was sent" in done.text
    assert "A peer responder will reach out to you." in done.text


def test_crisis_resources_are_shown_on_the_very_next_page_once(console: Console) -> None:
    console.sign_in()
    console.api.receipt = CheckinReceipt(
        id="x",
        status="accepted",
        immediate_support=[
            SupportResource(name="Crisis line", description="Any time.", contact="116 123"),
            SupportResource(name="Emergency services", contact="112"),
        ],
    )
    form = checkin_form(console, **{f"phq9_{n}": "0" for n in range(1, 9)}, phq9_9="2")
    done = console.client.post("/checkin", data=form)
    assert done.status_code == 200
    assert done.url.path == "/checkin/done"
    assert console.api.checkins[0][1].phq9 == [0, 0, 0, 0, 0, 0, 0, 0, 2]
    crisis = done.text.index('class="crisis"')
    assert crisis < done.text.index("Crisis line") < done.text.index("116 123")
    assert "Emergency services" in done.text
    # Shown once: a reload goes back to the form, not to someone else's resources.
    again = console.client.get("/checkin/done", follow_redirects=False)
    assert again.status_code == 303


def test_incomplete_questionnaire_is_explained_and_nothing_is_sent(console: Console) -> None:
    console.sign_in()
    form = checkin_form(console, mood="3", who5_1="4", who5_2="4", note="keep me")
    answer = console.client.post("/checkin", data=form)
    assert answer.status_code == 422
    assert console.api.checkins == []
    assert "There is a problem" in answer.text
    assert 'href="#q-who5_3"' in answer.text
    assert 'id="who5_1-4" name="who5_1" value="4" checked' in answer.text
    assert ">keep me</textarea>" in answer.text


def test_an_empty_checkin_asks_for_an_answer(console: Console) -> None:
    console.sign_in()
    answer = console.client.post("/checkin", data=checkin_form(console))
    assert answer.status_code == 422
    assert "Answer at least one question" in answer.text
    assert console.api.checkins == []


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({}, None),
        ({}, "forged-token"),
        ({"Sec-Fetch-Site": "cross-site"}, "valid"),
        ({"Origin": "http://127.0.0.2:8005"}, "valid"),
    ],
    ids=["missing", "forged", "cross-site", "foreign-origin"],
)
def test_forms_without_the_session_csrf_token_are_refused(
    console: Console, headers: dict[str, str], token: str | None
) -> None:
    console.sign_in()
    form = checkin_form(console, mood="3")
    if token is None:
        del form["csrf_token"]
    elif token != "valid":
        form["csrf_token"] = token
    answer = console.client.post("/checkin", data=form, headers=headers)
    assert answer.status_code == 403
    assert "This form could not be accepted" in answer.text
    assert console.api.checkins == []


def test_a_same_origin_form_under_no_referrer_is_accepted(console: Console) -> None:
    console.sign_in()
    form = checkin_form(console, mood="3")
    headers = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    answer = console.client.post("/checkin", data=form, headers=headers, follow_redirects=False)
    assert answer.status_code == 303


def test_an_oversized_form_is_refused_before_it_is_read(console: Console) -> None:
    console.sign_in()
    form = checkin_form(console, mood="3", note="x" * 70_000)
    answer = console.client.post("/checkin", data=form)
    assert answer.status_code == 413
    assert console.api.checkins == []


def test_sign_out_ends_the_session_here_and_at_the_provider(console: Console) -> None:
    console.sign_in()
    cookie = console.client.cookies[COOKIE]
    csrf = console.csrf("/")
    answer = console.client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("http://127.0.0.1:28180/realms/kinship/logout?")
    assert "id_token_hint=id-1" in location
    assert "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8005%2Fsigned-out" in location
    assert len(console.store.rows) == 0
    console.client.cookies.set(COOKIE, cookie)
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_sign_out_needs_the_csrf_token(console: Console) -> None:
    console.sign_in()
    answer = console.client.post("/signout", data={"csrf_token": "nope"})
    assert answer.status_code == 403
    assert console.client.get("/checkin").status_code == 200


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (NotSignedInError("checkin", 401), 401, "Please sign in again"),
        (NotAllowedError("checkin", 403), 403, "Not available to you"),
        (NotFoundError("checkin", 404), 404, "Not found"),
        (RejectedError("checkin", 422, ["mood"]), 422, "Not accepted"),
        (UnavailableError("checkin", 503), 503, "not available right now"),
        (UnavailableError("checkin"), 503, "not available right now"),
    ],
)
def test_service_answers_become_clear_page_states(
    console: Console, error: ApiError, status: int, text: str
) -> None:
    console.sign_in()
    console.api.error = error
    answer = console.client.post("/checkin", data=checkin_form(console, mood="3"))
    assert answer.status_code == status
    assert text in answer.text
    assert "Your check-in was not sent." in answer.text
    cases = console.client.get("/cases", follow_redirects=False)
    if status == 401:  # the session ended: the next page asks to sign in
        assert cases.status_code == 303
        assert cases.headers["location"] == "/signin?next=/cases"
    else:
        assert cases.status_code == status
        assert text in cases.text
        assert "Your cases could not be shown." in cases.text


def test_a_rejected_token_is_refreshed_and_the_call_tried_once_more(console: Console) -> None:
    console.sign_in()
    console.api.error = NotSignedInError("escalation", 401)
    console.api.errors_left = 1
    page = console.client.get("/cases")
    assert page.status_code == 200
    assert console.api.case_reads == ["access-1", "refreshed-1"]


def test_a_token_about_to_expire_is_refreshed_before_the_call(console: Console) -> None:
    console.provider.lifetime = 10  # inside the refresh margin
    console.sign_in()
    before = console.provider.refreshed
    assert console.client.get("/cases").status_code == 200
    assert console.provider.refreshed == before + 1
    assert console.api.case_reads == [f"refreshed-{before + 1}"]


def test_a_refused_refresh_ends_the_session_and_asks_to_sign_in(console: Console) -> None:
    console.provider.lifetime = 10
    console.provider.refuse_refresh = True
    console.sign_in()
    answer = console.client.get("/cases", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/cases"
    assert console.api.case_reads == []
    assert len(console.store.rows) == 0


def test_my_cases_shows_severity_status_and_age_most_urgent_first(console: Console) -> None:
    console.sign_in()
    now = datetime.now(UTC)
    console.api.cases = [
        CaseSummary(
            case_id="aaaaaaaa-medium",
            status="acknowledged",
            severity="medium",
            opened_at=now - timedelta(days=2),
        ),
        CaseSummary(
            case_id="bbbbbbbb-critical",
            status="assigned",
            severity="critical",
            opened_at=now - timedelta(minutes=5),
        ),
    ]
    page = console.client.get("/cases")
    assert page.status_code == 200
    assert console.api.case_reads == ["access-1"]
    text = page.text
    assert text.index("Case bbbbbbbb") < text.index("Case aaaaaaaa")
    assert "Critical" in text and "Medium" in text
    assert "Assigned" in text and "Acknowledged" in text
    assert "5 minutes ago" in text and "2 days ago" in text
    assert "2 open cases are assigned to you." in text


def test_no_cases_says_so(console: Console) -> None:
    console.sign_in()
    assert "No open cases are assigned to you." in console.client.get("/cases").text


def test_an_idle_session_ends(console: Console) -> None:
    console.sign_in()
    console.clock.offset = timedelta(minutes=31)
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_a_busy_session_still_ends_at_its_absolute_expiry(console: Console) -> None:
    console.sign_in()
    for minutes in range(20, 10 * 60, 20):  # a request every 20 minutes keeps it from idling
        console.clock.offset = timedelta(minutes=minutes)
        assert console.client.get("/checkin", follow_redirects=False).status_code == 200
    console.clock.offset = timedelta(hours=10, minutes=1)
    assert console.client.get("/checkin", follow_redirects=False).status_code == 303


def test_session_data_is_kept_server_side_and_the_cookie_is_locked_down(console: Console) -> None:
    console.client.get("/signin", follow_redirects=False)
    console.sign_in()
    cookie_header = [
        value for name, value in console.client.get("/").headers.items() if name == "set-cookie"
    ]
    assert cookie_header == []  # nothing changes on a plain page view
    started = console.client.get("/signin", params={"next": "/"}, follow_redirects=False)
    assert started.status_code == 303  # already signed in
    signed_in_cookie = console.client.cookies[COOKIE]
    assert "access" not in signed_in_cookie
    (row,) = console.store.rows.values()
    assert row.data["access_token"] == "access-1"


def test_session_cookie_flags(console: Console) -> None:
    answer = console.client.get("/signin", follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
        assert flag in cookie
    assert "Domain" not in cookie and "Max-Age" not in cookie


@pytest.mark.parametrize("path", ["/", "/checkin", "/cases", "/signed-out", "/nowhere"])
def test_every_page_carries_the_security_headers(console: Console, path: str) -> None:
    console.sign_in()
    console.api.error = UnavailableError("escalation")
    page = console.client.get(path)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:28180" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/", "/checkin", "/cases", "/signed-out", "/nowhere"])
def test_pages_have_no_inline_script_or_style(console: Console, path: str) -> None:
    console.sign_in()
    html = console.client.get(path).text
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None


def test_unknown_page_is_a_page_not_json(console: Console) -> None:
    page = console.client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text


@pytest.mark.parametrize(
    ("accept", "lang", "text"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de-DE", "Einchecken"),
        ("de", "de", "Einchecken"),
        ("fr-FR,de;q=0.5", "de", "Einchecken"),
        ("en-GB,de;q=0.5", "en-GB", "Check in"),
        ("fr-FR", "en", "Check in"),
    ],
)
def test_the_browser_language_chooses_english_or_german(
    console: Console, accept: str, lang: str, text: str
) -> None:
    console.sign_in()
    page = console.client.get("/checkin", headers={"Accept-Language": accept})
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{text}</h1>" in page.text


def test_german_case_ages(console: Console) -> None:
    console.sign_in()
    console.api.cases = [
        CaseSummary(
            case_id="cccccccc",
            status="assigned",
            severity="high",
            opened_at=datetime.now(UTC) - timedelta(hours=3),
        )
    ]
    page = console.client.get("/cases", headers={"Accept-Language": "de-DE"})
    assert "vor 3 Stunden" in page.text
    assert "Hoch" in page.text


def test_readiness_reports_each_dependency() -> None:
    from fastapi.testclient import TestClient

    from kinship_console.bootstrap import create_app
    from tests.unit.console.conftest import console_settings
    from tests.unit.console.fakes import FakeApi, FakeProvider

    async def ok() -> bool:
        return True

    async def down() -> bool:
        raise ConnectionRefusedError

    app = create_app(
        console_settings(),
        api=FakeApi(),
        provider=FakeProvider(),
        store=None,
        readiness={"postgres": ok, "oidc_discovery": down},
    )
    # No lifespan: readiness must answer without a database.
    client = TestClient(app)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"] == {
        "postgres": "ok",
        "oidc_discovery": "unavailable: ConnectionRefusedError",
    }
    assert client.get("/healthz").json() == {"status": "ok"}
