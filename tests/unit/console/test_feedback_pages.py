"""The feedback page after a case, over fakes: the question each side is asked, worded
answers, sign-in and back, CSRF, what is sent to the escalation service, the thank-you page,
and how its refusals become calm pages; and the API client's call."""

import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from kinship_console.adapters.api import (
    ConflictError,
    HttpKinshipApi,
    NotAllowedError,
    NotFoundError,
    RejectedError,
    UnavailableError,
)
from tests.unit.console.conftest import Console

CASE = "c0ffee00-1111-2222-3333-444455556666"
PAGE = f"/feedback/{CASE}"


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def give(console: Console, side: str | None, score: str | None) -> httpx.Response:
    query = f"?from={side}" if side else ""
    page = console.client.get(f"{PAGE}{query}")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text)}
    if score is not None:
        form["score"] = score
    answer: httpx.Response = console.client.post(
        f"{PAGE}{query}", data=form, follow_redirects=False
    )
    return answer


# The form ---------------------------------------------------------------------------------


def test_the_person_is_asked_how_helpful_it_was_with_a_word_for_each_answer(
    console: Console,
) -> None:
    console.sign_in()
    page = console.client.get(PAGE, params={"from": "person"})
    assert page.status_code == 200
    assert "<h1>How helpful was your conversation?</h1>" in page.text
    assert "<legend>How helpful was the support you received?</legend>" in page.text
    for value, words in enumerate(
        ["Not helpful at all", "A little helpful", "Somewhat helpful", "Very helpful"], start=1
    ):
        assert f'<label for="score-{value}">{value} · {words}</label>' in page.text
    assert '<label for="score-5">5 · Extremely helpful</label>' in page.text
    assert page.text.count('type="radio" id="score-') == 5
    assert f'action="{PAGE}?from=person"' in page.text
    assert "Your responder sees that feedback was given, not your answer." in page.text


def test_the_responder_is_asked_how_the_case_went(console: Console) -> None:
    console.sign_in()
    page = console.client.get(PAGE, params={"from": "responder"})
    assert "<h1>How did the case go?</h1>" in page.text
    assert '<label for="score-1">1 · Not well at all</label>' in page.text
    assert '<label for="score-5">5 · Very well</label>' in page.text
    assert f'action="{PAGE}?from=responder"' in page.text
    assert "helpful" not in page.text


@pytest.mark.parametrize("side", [None, "coordinator", "PERSON"])
def test_a_link_without_a_known_side_asks_the_person_supported(
    console: Console, side: str | None
) -> None:
    console.sign_in()
    page = console.client.get(PAGE, params={"from": side} if side else None)
    assert "<h1>How helpful was your conversation?</h1>" in page.text
    assert f'action="{PAGE}?from=person"' in page.text


def test_the_page_is_german_for_a_german_browser(console: Console) -> None:
    console.sign_in()
    page = console.client.get(PAGE, params={"from": "person"}, headers={"Accept-Language": "de-DE"})
    assert '<html lang="de-DE">' in page.text
    assert "<h1>Wie hilfreich war Ihr Gespräch?</h1>" in page.text
    assert "Überhaupt nicht hilfreich" in page.text
    responder = console.client.get(
        PAGE, params={"from": "responder"}, headers={"Accept-Language": "de"}
    )
    assert "<h1>Wie ist der Fall verlaufen?</h1>" in responder.text


def test_a_person_not_signed_in_signs_in_and_comes_back_to_the_same_question(
    console: Console,
) -> None:
    first = console.client.get(PAGE, params={"from": "responder"}, follow_redirects=False)
    assert first.status_code == 303
    location = first.headers["location"]
    assert urlsplit(location).path == "/signin"
    (next_path,) = parse_qs(urlsplit(location).query)["next"]
    assert next_path == f"{PAGE}?from=responder"
    console.sign_in(next_path)
    back = console.client.get(next_path)
    assert "<h1>How did the case go?</h1>" in back.text


def test_the_sign_in_callback_returns_to_the_feedback_link(console: Console) -> None:
    started = console.client.get(
        "/signin", params={"next": f"{PAGE}?from=responder"}, follow_redirects=False
    )
    state = re.search(r"state=([^&]+)", started.headers["location"])
    assert state is not None
    done = console.client.get(
        "/auth/callback", params={"state": state.group(1), "code": "c"}, follow_redirects=False
    )
    assert done.headers["location"] == f"{PAGE}?from=responder"


def test_any_deep_link_keeps_its_query_through_sign_in(console: Console) -> None:
    first = console.client.get("/checkin", params={"instrument": "who5"}, follow_redirects=False)
    (next_path,) = parse_qs(urlsplit(first.headers["location"]).query)["next"]
    assert next_path == "/checkin?instrument=who5"


# Giving it ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "score"), [("person", 4), ("responder", 2)])
def test_the_score_goes_to_the_escalation_service_as_the_person_then_thanks(
    console: Console, side: str, score: int
) -> None:
    console.sign_in()
    answer = give(console, side, str(score))
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PAGE}/thanks"
    assert console.api.feedback == [("access-1", CASE, side, score)]
    thanks = console.client.get(answer.headers["location"])
    assert "<h1>Thank you for your feedback</h1>" in thanks.text
    assert "Your answer was recorded." in thanks.text
    again = console.client.get(f"{PAGE}/thanks", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == PAGE, "shown once"


def test_feedback_given_before_is_thanked_as_already_given(console: Console) -> None:
    console.sign_in()
    console.api.feedback_given.add((CASE, "person"))
    answer = give(console, "person", "5")
    thanks = console.client.get(answer.headers["location"])
    assert thanks.status_code == 200
    assert "Your feedback on this case was already given" in thanks.text
    assert "Your answer was recorded." not in thanks.text


@pytest.mark.parametrize("score", [None, "0", "6", "3.5", "", "٣"])
def test_without_one_of_the_five_answers_nothing_is_sent_and_the_form_says_so(
    console: Console, score: str | None
) -> None:
    console.sign_in()
    answer = give(console, "responder", score)
    assert answer.status_code == 422
    assert "<title>Error: How did the case go? \u2013 Kinship</title>" in answer.text
    assert 'id="score-error"' in answer.text
    assert "Choose one of the five answers." in answer.text
    assert 'aria-describedby="score-hint score-error"' in answer.text
    assert console.api.feedback == []


def test_a_post_without_the_csrf_token_is_refused_and_nothing_is_sent(console: Console) -> None:
    console.sign_in()
    console.client.get(PAGE)
    answer = console.client.post(f"{PAGE}?from=person", data={"score": "4", "csrf_token": "forged"})
    assert answer.status_code == 403
    assert "This form could not be accepted" in answer.text
    assert console.api.feedback == []


def test_a_post_from_another_site_is_refused(console: Console) -> None:
    console.sign_in()
    token = csrf_of(console.client.get(PAGE).text)
    answer = console.client.post(
        f"{PAGE}?from=person",
        data={"score": "4", "csrf_token": token},
        headers={"Origin": "http://127.0.0.1:9999"},
    )
    assert answer.status_code == 403
    assert console.api.feedback == []


def test_a_post_without_a_session_is_refused_and_nothing_is_sent(console: Console) -> None:
    answer = console.client.post(f"{PAGE}?from=responder", data={"score": "4"})
    # No session, no token: the CSRF guard refuses before the page runs.
    assert answer.status_code == 403
    assert console.api.feedback == []


# Refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refusal", [NotAllowedError("escalation", 403), NotFoundError("escalation", 404)]
)
def test_someone_elses_case_and_an_unknown_case_read_the_same(
    console: Console, refusal: NotAllowedError | NotFoundError
) -> None:
    console.sign_in()
    console.api.error = refusal
    answer = give(console, "person", "4")
    assert answer.status_code == 404
    assert "<h1>This feedback link is not for you</h1>" in answer.text
    assert "check that you are signed in with your own account" in answer.text
    assert CASE not in answer.text


def test_the_two_refusals_cannot_be_told_apart(console: Console) -> None:
    console.sign_in()
    bodies = []
    for refusal in (NotAllowedError("escalation", 403), NotFoundError("escalation", 404)):
        console.api.error = refusal
        answer = give(console, "person", "4")
        bodies.append((answer.status_code, re.sub(r'value="[^"]+"', "", answer.text)))
    assert bodies[0] == bodies[1]


def test_a_case_that_is_open_again_cannot_take_feedback_now(console: Console) -> None:
    console.sign_in()
    console.api.error = ConflictError("escalation", 409)
    answer = give(console, "responder", "3")
    assert answer.status_code == 409
    assert "Feedback cannot be given on this case now" in answer.text


def test_an_unavailable_service_is_a_page_with_a_way_to_try_again(console: Console) -> None:
    console.sign_in()
    console.api.error = UnavailableError("escalation", 503)
    answer = give(console, "responder", "3")
    assert answer.status_code == 503
    assert "Your feedback was not sent." in answer.text
    assert f'href="{PAGE}?from=responder">Try again' in answer.text


def test_a_rejected_answer_is_not_taken_for_a_refusal(console: Console) -> None:
    console.sign_in()
    console.api.error = RejectedError("escalation", 422, ["score"])
    answer = give(console, "person", "3")
    assert answer.status_code == 422
    assert "This feedback link is not for you" not in answer.text


def test_nothing_about_the_case_or_the_score_is_logged(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    console.sign_in()
    with caplog.at_level(logging.DEBUG):
        give(console, "person", "4")
        console.api.error = NotAllowedError("escalation", 403)
        give(console, "person", "4")
    # The console's own records (the test client's httpx lines are not the console's; the
    # runtime's telemetry floors httpx and httpcore at WARNING in the service).
    console_records = [r for r in caplog.records if r.name.startswith("kinship")]
    assert console_records, "the access log wrote nothing: the test would prove nothing"
    for record in console_records:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert CASE not in text
        assert "score" not in text


# The API client ---------------------------------------------------------------------------------


async def test_the_client_posts_the_score_and_side_with_the_persons_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"recorded": len(seen) == 1})

    api = HttpKinshipApi(
        {"escalation": "http://127.0.0.1:8002/"}, transport=httpx.MockTransport(answer)
    )
    assert await api.give_feedback("tok-1", "k/1", "responder", 4) is True
    assert await api.give_feedback("tok-1", "k/1", "responder", 4) is False
    request = seen[0]
    assert request.method == "POST"
    assert request.url.raw_path == b"/v1/cases/k%2F1/feedback"
    assert request.headers["authorization"] == "Bearer tok-1"
    assert json.loads(request.content) == {"score": 4, "given_by": "responder"}


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, NotAllowedError), (404, NotFoundError), (409, ConflictError), (503, UnavailableError)],
)
async def test_the_clients_refusals_are_typed(status: int, error: type[Exception]) -> None:
    api = HttpKinshipApi(
        {"escalation": "http://127.0.0.1:8002"},
        transport=httpx.MockTransport(lambda _request: httpx.Response(status, json={})),
    )
    with pytest.raises(error):
        await api.give_feedback("tok-1", "k-1", "person", 3)


async def test_an_answer_without_recorded_is_an_unusable_service() -> None:
    api = HttpKinshipApi(
        {"escalation": "http://127.0.0.1:8002"},
        transport=httpx.MockTransport(lambda _request: httpx.Response(202, json={"ok": 1})),
    )
    with pytest.raises(UnavailableError):
        await api.give_feedback("tok-1", "k-1", "person", 3)
