"""The coordinator's pages over a fake escalation service."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from kinship_console.adapters.api import Me, NotAllowedError
from kinship_console.adapters.cases_api import FieldsRejectedError, Policy, PolicyStep, Rotation
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
    api = FakeCasesApi(acting="cora", person=Me(person_id="cora", roles=["coordinator"]))
    provider = FakeProvider(person_id="cora")
    app = create_app(settings, api=api, provider=provider, store=store, clock=clock, readiness={})
    with TestClient(app, base_url="https://127.0.0.1:8005") as client:
        yield Console(client, api, provider, store, clock)


def fake(console: Console) -> FakeCasesApi:
    assert isinstance(console.api, FakeCasesApi)
    return console.api


def send(console: Console, path: str, form: dict[str, str]) -> httpx.Response:
    token = console.csrf(path)
    answer: httpx.Response = console.client.post(
        path, data={"csrf_token": token, **form}, follow_redirects=False
    )
    return answer


def policy_form(**changes: str) -> dict[str, str]:
    form = {
        "step-1-target": "rotation",
        "step-1-name": "care-week",
        "step-1-timeout": "300",
        "step-1-repeat": "2",
        "step-2-target": "coordinators",
        "step-2-name": "",
        "step-2-timeout": "600",
        "step-2-repeat": "1",
        "step-3-target": "",
        "contact_timeout": "3600",
        "unanswered_interval": "900",
        "urgent_from": "critical",
    }
    form.update(changes)
    return form


def test_unacknowledged_lists_only_cases_nobody_took_most_urgent_first(console: Console) -> None:
    api = fake(console)
    now = datetime.now(UTC)
    api.details = {
        "aaaa1111-x": sample_case(
            "aaaa1111-x", severity="medium", opened_at=now - timedelta(hours=3)
        ),
        "bbbb2222-x": sample_case(
            "bbbb2222-x", status="opened", opened_at=now - timedelta(minutes=9)
        ),
        "cccc3333-x": sample_case("cccc3333-x", status="acknowledged"),
    }
    console.sign_in()
    page = console.client.get("/coordinator")
    assert page.status_code == 200
    text = page.text
    assert text.index("Case bbbb2222") < text.index("Case aaaa1111")
    assert "Case cccc3333" not in text
    assert 'href="/cases/bbbb2222-x"' in text
    assert "2 cases have not been taken by anyone yet." in text
    assert "3 cases are open in all." in text


def test_a_person_who_is_not_a_coordinator_is_told_so(console: Console) -> None:
    api = fake(console)

    async def refused(token: str) -> Policy:
        raise NotAllowedError("escalation", 403)

    api.policy = refused  # type: ignore[method-assign]
    console.sign_in()
    page = console.client.get("/coordinator/policy")
    assert page.status_code == 403 and "Not available to you" in page.text


def test_a_peer_responder_is_not_shown_the_coordinators_pages(console: Console) -> None:
    api = fake(console)
    api.person = Me(person_id="cora", roles=["peer_responder"])
    console.sign_in()
    for path in ("/coordinator", "/coordinator/policy", "/coordinator/report"):
        page = console.client.get(path)
        assert page.status_code == 403 and "Not available to you" in page.text
    assert api.called("open_cases") == [] and api.called("policy") == []


def test_the_policy_form_shows_the_policy_in_force(console: Console) -> None:
    console.sign_in()
    text = console.client.get("/coordinator/policy").text
    assert '<option value="responders" selected>' in text
    assert '<option value="coordinators" selected>' in text
    assert 'id="step-2-repeat" name="step-2-repeat" value="2"' in text
    assert 'id="contact_timeout" name="contact_timeout" value="3600"' in text
    assert 'id="step-3-target"' in text, "one empty row to add a step"
    assert 'id="step-4-target"' not in text


def test_invalid_policy_values_are_shown_by_field_and_nothing_is_saved(console: Console) -> None:
    console.sign_in()
    answer = send(
        console,
        "/coordinator/policy",
        policy_form(**{"step-1-timeout": "0", "step-1-name": "Care Week", "step-2-repeat": "9"}),
    )
    assert answer.status_code == 422
    text = answer.text
    assert "<title>Error: Escalation policy" in text
    assert 'href="#q-step-1-timeout"' in text and 'href="#q-step-1-name"' in text
    assert 'href="#q-step-2-repeat"' in text
    assert 'aria-describedby="step-1-timeout-hint step-1-timeout-error"' in text
    assert "Enter a whole number of seconds from 1 to 86400" in text
    assert 'value="Care Week"' in text, "what was typed is shown again"
    assert fake(console).called("save_policy") == []


def test_a_policy_without_steps_is_refused(console: Console) -> None:
    console.sign_in()
    answer = send(
        console, "/coordinator/policy", policy_form(**{"step-1-target": "", "step-2-target": ""})
    )
    assert answer.status_code == 422
    assert "The policy needs at least one step." in answer.text


def test_a_valid_policy_is_put_and_confirmed(console: Console) -> None:
    console.sign_in()
    answer = send(console, "/coordinator/policy", policy_form())
    assert answer.status_code == 303
    ((policy,),) = fake(console).called("save_policy")
    assert policy == Policy(
        steps=[
            PolicyStep(target="rotation:care-week", timeout_seconds=300, repeat=2),
            PolicyStep(target="coordinators", timeout_seconds=600, repeat=1),
        ],
        contact_timeout_seconds=3600,
        urgent_from="critical",
        unanswered_interval_seconds=900,
    )
    assert fake(console).case_calls[-1][1] == "access-1", "as the signed-in coordinator"
    text = console.client.get("/coordinator/policy").text
    assert "The escalation policy was saved." in text
    assert 'value="care-week"' in text


def test_a_field_the_service_refuses_is_named(console: Console) -> None:
    api = fake(console)

    async def refuse(token: str, policy: Policy) -> Policy:
        raise FieldsRejectedError("escalation", 422, [("steps", 1, "repeat")])

    api.save_policy = refuse  # type: ignore[method-assign]
    console.sign_in()
    answer = send(console, "/coordinator/policy", policy_form())
    assert answer.status_code == 422
    text = answer.text
    assert 'href="#q-step-2-repeat"' in text
    assert "The escalation service did not accept this value." in text


def test_rotations_are_listed_added_and_edited(console: Console) -> None:
    api = fake(console)
    api.stored_rotations = [
        Rotation(
            name="care-week",
            members=["rosa", "sam"],
            shift_hours=168,
            starts_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        )
    ]
    console.sign_in()
    text = console.client.get("/coordinator/rotations").text
    assert "Rotation care-week" in text and "rosa\nsam" in text
    assert 'value="2026-11-30T09:00"' in text
    bad = send(
        console,
        "/coordinator/rotations",
        {"name": "nights", "members": "rosa sam", "shift_hours": "0", "starts_at": "soon"},
    )
    assert bad.status_code == 422
    bad_text = bad.text
    for field in ("members", "shift_hours", "starts_at"):
        assert f'href="#q-rnew-{field}"' in bad_text
    assert api.called("save_rotation") == []
    added = send(
        console,
        "/coordinator/rotations",
        {
            "name": "nights",
            "members": "rosa\nsam",
            "shift_hours": "12",
            "starts_at": "2026-12-01T20:00",
        },
    )
    assert added.status_code == 303
    ((rotation,),) = api.called("save_rotation")
    assert rotation == Rotation(
        name="nights",
        members=["rosa", "sam"],
        shift_hours=12,
        starts_at=datetime(2026, 12, 1, 20, 0, tzinfo=UTC),
    )
    edited = send(
        console,
        "/coordinator/rotations",
        {
            "existing": "yes",
            "name": "care-week",
            "members": "sam, rosa",
            "shift_hours": "24",
            "starts_at": "2026-11-30T09:00",
        },
    )
    assert edited.status_code == 303
    assert api.called("save_rotation")[-1][0].members == ["sam", "rosa"]
    assert "The rotation was saved." in console.client.get("/coordinator/rotations").text


def test_an_invalid_edit_of_an_existing_rotation_is_shown_on_its_own_form(console: Console) -> None:
    api = fake(console)
    api.stored_rotations = [
        Rotation(
            name="care-week",
            members=["rosa"],
            shift_hours=168,
            starts_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        )
    ]
    console.sign_in()
    bad = send(
        console,
        "/coordinator/rotations",
        {
            "existing": "yes",
            "name": "care-week",
            "members": "rosa\nrosa",
            "shift_hours": "24",
            "starts_at": "2026-11-30T09:00",
        },
    )
    assert bad.status_code == 422
    text = bad.text
    assert 'href="#q-r1-members"' in text and "Each member can be in the rotation once." in text
    assert 'href="#q-rnew-' not in text


def test_the_programme_report_as_a_table_and_bar_charts(console: Console) -> None:
    fake(console).measures = {
        "cases": 12,
        "time_to_acknowledge_seconds": {"median": 240.0, "p90": 3900.0},
        "time_to_first_contact_seconds": {"median": None, "p90": None},
        "escalation_rate_by_step": {"1": 1.0, "2": 0.25},
        "outcomes": {"supported": 6, "no_contact": 2},
        "feedback": {"person": {"count": 5, "mean_score": 4.4}},
    }
    console.sign_in()
    page = console.client.get("/coordinator/report")
    assert page.status_code == 200
    text = page.text
    assert "12 cases so far." in text
    assert "<td>4 min</td><td>1 h 05 min</td>" in text
    assert "<td>25 %</td>" in text and "<td>100 %</td>" in text
    assert "Supported: we talked" in text and "<td>6</td>" in text
    assert "<td>4.4</td>" in text
    assert text.count('<svg role="img"') == 2 and 'class="chart-bar"' in text
    assert 'width="90.0"' in text, "25 % of the 360-unit bar"
    assert "style=" not in text


def test_a_withheld_report_says_why(console: Console) -> None:
    fake(console).measures = {"cases": None, "withheld": "fewer than 5 cases so far"}
    console.sign_in()
    text = console.client.get("/coordinator/report").text
    assert "the figures are withheld" in text and "<svg" not in text


def test_my_cases_leads_to_the_coordinator_pages_and_each_case_page(console: Console) -> None:
    fake(console).cases = [sample_case("dddd4444-x")]
    console.sign_in()
    text = console.client.get("/cases").text
    assert 'href="/coordinator"' in text and 'href="/cases/dddd4444-x"' in text
