"""The on-call pages over a fake escalation service: who is on call and the person's own
standing, the calendar link shown once and stoppable, and for coordinators the load report,
fair shares and overrides (with errors by field); refusals for people they are not for."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from kinship_console.adapters.api import Me
from kinship_console.adapters.cases_api import FieldsRejectedError
from kinship_console.adapters.oncall_api import (
    FairShare,
    OnCallLoadReport,
    OnCallNow,
    OnCallShift,
    ParticipantShare,
    PersonLoad,
    ScheduledOverride,
    ScheduleNow,
)
from tests.unit.console.cases_fakes import FakeCasesApi
from tests.unit.console.conftest import Console, console_as
from tests.unit.console.test_coordinator_pages import send

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def console_for(person: str, roles: list[str]) -> Iterator[Console]:
    for console in console_as(person, roles):
        assert isinstance(console.api, FakeCasesApi)
        console.api.on_call_now = on_call_now()
        yield console


@pytest.fixture
def responder() -> Iterator[Console]:
    yield from console_for("rosa", ["peer_responder"])


@pytest.fixture
def coordinator() -> Iterator[Console]:
    yield from console_for("cora", ["coordinator"])


def fake(console: Console) -> FakeCasesApi:
    assert isinstance(console.api, FakeCasesApi)
    return console.api


def on_call_now() -> OnCallNow:
    return OnCallNow(
        at=AT,
        schedules=[
            ScheduleNow(
                schedule="weekly",
                kind="rotation",
                on_call=OnCallShift(person_id="sam", until=AT + timedelta(days=2)),
                next_on_call=["rosa"],
                next_handoff=AT + timedelta(days=2),
            ),
            ScheduleNow(
                schedule="care",
                time_zone="Europe/London",
                on_call=OnCallShift(
                    person_id="rosa", source="override", until=AT + timedelta(hours=8)
                ),
                order=["rosa", "sam"],
                resting=["tom"],
                next_handoff=AT + timedelta(hours=8),
                next_on_call=["sam"],
            ),
        ],
    )


def test_a_responder_sees_who_is_on_call_and_their_own_standing(responder: Console) -> None:
    responder.sign_in()
    page = responder.client.get("/oncall")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = unescape(page.text)
    assert "You are on call in care until" in text and "2026-12-01 17:00 UTC" in text
    assert "Your next turn in weekly starts" in text
    rows = text[text.index("<tbody>") : text.index("</tbody>")].split("<tr>")[1:]
    assert rows[0].strip().startswith('<th scope="row">care<br>'), "schedules before rotations"
    assert "by an override" in rows[0] and "tom" in rows[0] and "<strong>You</strong>" in rows[0]
    assert "(rotation)" in rows[1]
    assert 'href="/oncall" aria-current="page"' in page.text  # the main navigation


def test_a_resting_responder_is_told_others_answer(responder: Console) -> None:
    now = on_call_now()
    care = now.schedules[1].model_copy(update={"on_call": None, "resting": ["rosa"]})
    fake(responder).on_call_now = now.model_copy(update={"schedules": [care]})
    responder.sign_in()
    text = unescape(responder.client.get("/oncall").text)
    assert "You are resting after a critical case" in text
    assert "You are not on call now." not in text and "Nobody" in text


def test_an_employee_is_refused_and_nothing_is_asked(responder: Console) -> None:
    fake(responder).person = Me(person_id="rosa", roles=[])
    responder.sign_in()
    page = responder.client.get("/oncall")
    assert page.status_code == 403 and "Not available to you" in page.text
    assert not [c for c in fake(responder).case_calls if c[0] == "oncall_now"]
    assert 'href="/oncall"' not in page.text


def test_the_calendar_link_is_shown_once_replaced_and_stopped(responder: Console) -> None:
    responder.sign_in()
    assert "Get my calendar link" in responder.client.get("/oncall").text
    first = send(responder, "/oncall/calendar", {})
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"
    assert "https://127.0.0.1:8002/v1/calendar/secret-1.ics" in first.text
    assert "webcal://127.0.0.1:8002/v1/calendar/secret-1.ics" in first.text
    later = responder.client.get("/oncall").text
    assert "secret-1" not in later and "Replace my calendar link" in later
    replaced = send(responder, "/oncall/calendar", {})
    assert "secret-2" in replaced.text and "secret-1" not in replaced.text
    stopped = send(responder, "/oncall/calendar/stop", {})
    assert stopped.status_code == 303 and stopped.headers["location"] == "/oncall"
    after = responder.client.get("/oncall").text
    assert "Your calendar link was stopped." in after and "Get my calendar link" in after
    assert fake(responder).feed_url is None


def test_the_calendar_needs_the_csrf_token(responder: Console) -> None:
    responder.sign_in()
    assert responder.client.post("/oncall/calendar").status_code == 403
    assert fake(responder).feeds_issued == 0


def test_a_coordinator_sees_the_load_fair_shares_and_overrides(coordinator: Console) -> None:
    api = fake(coordinator)
    api.load = OnCallLoadReport(
        start=AT - timedelta(days=28),
        end=AT,
        people=[
            PersonLoad(person_id="sam", on_call_hours=120, night_hours=40, pages=3, cases=1),
            PersonLoad(person_id="rosa", on_call_hours=200, night_hours=90, pages=9, night_pages=4),
        ],
        schedules={
            "care": FairShare(
                participants=[
                    ParticipantShare(person_id="rosa", share=0.625, even_share=0.5),
                    ParticipantShare(person_id="sam", share=0.375, even_share=0.5),
                ]
            )
        },
    )
    api.schedule_overrides = {
        "care": [ScheduledOverride(id="ov-7", person_id="uma", start=AT, end=AT + timedelta(1))]
    }
    coordinator.sign_in()
    page = coordinator.client.get("/coordinator/oncall")
    assert page.status_code == 200
    text = unescape(page.text)
    load = text[text.index("On-call load from") :]
    assert load.index("rosa") < load.index("sam"), "the most loaded first"
    assert "rosa: 62% of the covered time (an even share is 50%)" in text
    assert "uma" in text and "/coordinator/oncall/overrides/care/ov-7/remove" in text
    assert [c[2] for c in api.case_calls if c[0] == "overrides"] == [("care",)]  # not rotations
    assert '<option value="care"' in text and '<option value="weekly"' not in text


def test_an_override_is_added_and_removed(coordinator: Console) -> None:
    coordinator.sign_in()
    answer = send(
        coordinator,
        "/coordinator/oncall/overrides",
        {
            "schedule": "care",
            "person_id": " uma ",
            "start": "2026-12-02T09:00",
            "end": "2026-12-02T17:00",
        },
    )
    assert answer.status_code == 303
    (added,) = fake(coordinator).schedule_overrides["care"]
    assert (added.person_id, added.start, added.end) == (
        "uma",
        datetime(2026, 12, 2, 9, tzinfo=UTC),
        datetime(2026, 12, 2, 17, tzinfo=UTC),
    )
    assert "The override was saved." in coordinator.client.get("/coordinator/oncall").text
    removed = send(coordinator, f"/coordinator/oncall/overrides/care/{added.id}/remove", {})
    assert removed.status_code == 303
    assert fake(coordinator).schedule_overrides["care"] == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"schedule": "weekly"}, "schedule", "Choose a schedule."),
        ({"person_id": "two words"}, "person_id", "Enter a Kinship id (no spaces)."),
        ({"start": "tomorrow"}, "start", "Enter when the override starts (UTC)."),
        ({"end": "2026-12-02T08:00"}, "end", "The end must be after the start"),
        ({"end": "2028-01-01T00:00"}, "end", "at most a year later"),
    ],
)
def test_an_invalid_override_is_explained_by_field_and_not_sent(
    coordinator: Console, changes: dict[str, str], field: str, message: str
) -> None:
    coordinator.sign_in()
    form = {
        "schedule": "care",
        "person_id": "uma",
        "start": "2026-12-02T09:00",
        "end": "2026-12-02T17:00",
    }
    answer = send(coordinator, "/coordinator/oncall/overrides", {**form, **changes})
    assert answer.status_code == 422
    assert message in unescape(answer.text)
    assert f'href="#q-{field}"' in answer.text
    assert not [c for c in fake(coordinator).case_calls if c[0] == "add_override"]


def test_a_responder_cannot_open_the_coordinators_on_call_page(responder: Console) -> None:
    responder.sign_in()
    page = responder.client.get("/coordinator/oncall")
    assert page.status_code == 403
    assert not [c for c in fake(responder).case_calls if c[0] == "oncall_load"]


def test_an_override_the_service_refuses_without_naming_a_field_is_explained(
    coordinator: Console,
) -> None:
    api = fake(coordinator)

    async def refuse(
        token: str, schedule: str, person_id: str, start: datetime, end: datetime
    ) -> ScheduledOverride:
        raise FieldsRejectedError("escalation", 422, [])  # a refusal in words, not by field

    api.add_override = refuse  # type: ignore[method-assign]
    coordinator.sign_in()
    form = {
        "schedule": "care",
        "person_id": "uma",
        "start": "2026-12-02T09:00",
        "end": "2026-12-02T17:00",
    }
    answer = send(coordinator, "/coordinator/oncall/overrides", form)
    assert answer.status_code == 422
    assert "did not accept this override" in unescape(answer.text)
    assert 'href="#q-person_id"' in answer.text


# ---- away -----------------------------------------------------------------------------------


def minutes(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_a_responder_says_they_are_away_and_comes_back(responder: Console) -> None:
    responder.sign_in()
    page = responder.client.get("/oncall").text
    assert "I'm away until (UTC)" in page and "I'm back" not in page
    until = minutes(responder.clock.now() + timedelta(days=3))
    answer = send(responder, "/oncall/away", {"until": until.strftime("%Y-%m-%dT%H:%M")})
    assert answer.status_code == 303 and answer.headers["location"] == "/oncall"
    assert fake(responder).away_until == until.replace(tzinfo=UTC)
    (call,) = [c for c in fake(responder).case_calls if c[0] == "set_away"]
    assert call[2] == (until,)
    text = unescape(re.sub(r"<[^>]+>", "", responder.client.get("/oncall").text))
    assert "Saved: alerts go to others until you are back." in text
    assert f"You are away until {until:%Y-%m-%d %H:%M} UTC — alerts go to others." in text
    assert "I'm back" in text
    back = send(responder, "/oncall/away/end", {})
    assert back.status_code == 303 and fake(responder).away_until is None
    after = unescape(responder.client.get("/oncall").text)
    assert "Welcome back" in after and "You are away until" not in after


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("", "Enter the time you are away until (UTC)."),
        ("next week", "Enter the time you are away until (UTC)."),
        ("2000-01-01T00:00", "The time must be in the future, and at most 90 days ahead."),
        ("far", "The time must be in the future, and at most 90 days ahead."),
    ],
)
def test_an_invalid_away_time_is_explained_by_field_and_not_sent(
    responder: Console, until: str, message: str
) -> None:
    responder.sign_in()
    if until == "far":
        until = (responder.clock.now() + timedelta(days=91)).strftime("%Y-%m-%dT%H:%M")
    answer = send(responder, "/oncall/away", {"until": until})
    assert answer.status_code == 422
    assert message in unescape(answer.text) and 'href="#q-until"' in answer.text
    assert not [c for c in fake(responder).case_calls if c[0] == "set_away"]


def test_an_away_time_the_service_refuses_is_explained(responder: Console) -> None:
    responder.sign_in()
    fake(responder).action_error = FieldsRejectedError("escalation", 422, [("until",)])
    until = responder.clock.now() + timedelta(days=1)
    answer = send(responder, "/oncall/away", {"until": until.strftime("%Y-%m-%dT%H:%M")})
    assert answer.status_code == 422
    assert "The escalation service did not accept this time." in answer.text
    assert fake(responder).away_until is None


def test_away_needs_the_csrf_token(responder: Console) -> None:
    responder.sign_in()
    until = (responder.clock.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert responder.client.post("/oncall/away", data={"until": until}).status_code == 403
    fake(responder).away_until = AT + timedelta(days=1)
    assert responder.client.post("/oncall/away/end").status_code == 403
    assert fake(responder).away_until == AT + timedelta(days=1)
