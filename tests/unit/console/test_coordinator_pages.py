"""The coordinator's pages over a fake escalation service."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from kinship_console.adapters.api import Me, NotAllowedError
from kinship_console.adapters.cases_api import (
    Policy,
    PolicyClashError,
    PolicyStep,
    PolicyTarget,
    Rotation,
)
from kinship_console.domain.coordination import programme_report
from tests.unit.console.cases_fakes import FakeCasesApi, default_policy, sample_case
from tests.unit.console.conftest import Console, console_as


@pytest.fixture
def console() -> Iterator[Console]:
    yield from console_as("cora", ["coordinator"])


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
    """The default policy's form: the schedule care-week twice, then the coordinators
    (a value ``-`` leaves the field out)."""
    form = {
        "step-1-schedules": "care-week",
        "step-1-people": "",
        "step-1-notify": "all",
        "step-1-timeout": "300",
        "step-1-repeat": "2",
        "step-2-coordinators": "yes",
        "step-2-schedules": "",
        "step-2-people": "",
        "step-2-notify": "all",
        "step-2-timeout": "600",
        "step-2-repeat": "1",
        "step-3-schedules": "",
        "step-3-people": "",
        "contact_timeout": "3600",
        "unanswered_interval": "900",
        "urgent_from": "critical",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value != "-"}


def team_form(**changes: str) -> dict[str, str]:
    """A new policy for platform's high cases: rosa (the service appends the coordinators)."""
    form = {
        "name": "platform-high",
        "team_id": "platform",
        "severity": "high",
        "step-1-people": "rosa",
        "step-1-notify": "all",
        "step-1-timeout": "120",
        "step-1-repeat": "1",
        "contact_timeout": "3600",
        "unanswered_interval": "900",
        "urgent_from": "high",
    }
    form.update(changes)
    return {name: value for name, value in form.items() if value != "-"}


def step(
    *targets: PolicyTarget, timeout: int = 300, repeat: int = 1, notify: str = "all"
) -> PolicyStep:
    return PolicyStep(targets=list(targets), notify=notify, timeout_seconds=timeout, repeat=repeat)


COORDINATORS = PolicyTarget(kind="coordinators")


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


def post(console: Console, page: str, action: str, form: dict[str, str]) -> httpx.Response:
    """Post ``form`` to ``action`` with the CSRF token of ``page``."""
    token = console.csrf(page)
    answer: httpx.Response = console.client.post(
        action, data={"csrf_token": token, **form}, follow_redirects=False
    )
    return answer


class _FormReader(HTMLParser):
    """The values a browser would send for the form posting to ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = found.get("action") == self.action
        elif self.inside and tag == "input" and "name" in found:
            kind = found.get("type", "text")
            if kind not in ("checkbox", "radio") or "checked" in found:
                self.values[found["name"]] = found.get("value", "")
        elif self.inside and tag == "select":
            self.select = found["name"]
            self.values.setdefault(self.select, "")
        elif self.inside and tag == "option" and self.select and "selected" in found:
            self.values[self.select] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def form_of(html: str, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.values, f"no form posts to {action}"
    return reader.values


def test_a_person_who_is_not_a_coordinator_is_told_so(console: Console) -> None:
    api = fake(console)

    async def refused(token: str) -> list[Policy]:
        raise NotAllowedError("escalation", 403)

    api.policies = refused  # type: ignore[method-assign]
    console.sign_in()
    page = console.client.get("/coordinator/policies")
    assert page.status_code == 403 and "Not available to you" in page.text


def test_a_peer_responder_is_not_shown_the_coordinators_pages(console: Console) -> None:
    api = fake(console)
    api.person = Me(person_id="cora", roles=["peer_responder"])
    console.sign_in()
    for path in (
        "/coordinator",
        "/coordinator/policies",
        "/coordinator/policies/default",
        "/coordinator/policies/new",
        "/coordinator/report",
    ):
        page = console.client.get(path)
        assert page.status_code == 403 and "Not available to you" in page.text
    token = console.csrf("/checkin")
    for action, form in (
        ("/coordinator/policies/default", policy_form()),
        ("/coordinator/policies/new", team_form()),
        ("/coordinator/policies/default/delete", {"confirm": "yes"}),
    ):
        answer = console.client.post(action, data={"csrf_token": token, **form})
        assert answer.status_code == 403 and "Not available to you" in answer.text
    asked = {name for name, _token, _args in api.case_calls}
    assert not asked & {"open_cases", "policy", "policies", "save_policy", "delete_policy"}


def test_a_form_without_its_csrf_token_is_refused(console: Console) -> None:
    console.sign_in()
    answer = console.client.post("/coordinator/policies/default", data=policy_form())
    assert answer.status_code == 403
    assert fake(console).called("save_policy") == []


def test_the_old_policy_address_leads_to_the_default(console: Console) -> None:
    console.sign_in()
    answer = console.client.get("/coordinator/policy", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/coordinator/policies/default"


def test_every_policy_is_listed_with_its_scope_and_steps_in_words(console: Console) -> None:
    api = fake(console)
    api.stored_policies["platform-high"] = Policy(
        name="platform-high",
        team_id="platform",
        severity="high",
        steps=[
            step(PolicyTarget(kind="schedule", schedule="care-week")),
            step(COORDINATORS),
        ],
    )
    api.stored_policies["critical"] = Policy(
        name="critical",
        severity="critical",
        steps=[
            step(
                PolicyTarget(kind="people", people=["rosa", "sam"]),
                COORDINATORS,
                notify="round_robin",
                repeat=3,
            )
        ],
    )
    api.stored_policies["care"] = Policy(
        name="care",
        team_id="care",
        steps=[step(PolicyTarget(kind="responders")), step(COORDINATORS)],
    )
    console.sign_in()
    page = console.client.get("/coordinator/policies")
    assert page.status_code == 200
    text = page.text
    assert '<a href="/coordinator/policies" aria-current="page">Escalation policies</a>' in text
    assert 'href="/coordinator/policies/new"' in text and "Add a policy" in text
    assert "Team platform, high cases" in text
    assert "Schedule care-week, then all coordinators" in text
    assert "Every team&#39;s critical cases" in text
    assert "Rosa, sam and all coordinators (one at a time) (3 times)" in text
    assert "Team care, every severity" in text
    assert "A peer responder, then all coordinators" in text
    assert "Every other case" in text
    assert "A peer responder, then all coordinators (2 times)" in text
    names = [text.index(f'href="/coordinator/policies/{n}"') for n in ("care", "critical")]
    assert names[0] < names[1] < text.index('href="/coordinator/policies/default"'), (
        "by name, the default last"
    )


def test_the_default_policy_form_shows_the_policy_in_force(console: Console) -> None:
    fake(console).stored_rotations = [
        Rotation(name="nights", members=["sam"], shift_hours=12, starts_at=datetime.now(UTC))
    ]
    console.sign_in()
    page = console.client.get("/coordinator/policies/default")
    assert page.status_code == 200
    text = page.text
    assert "<h1>The default escalation policy</h1>" in text
    assert 'id="step-1-responders" name="step-1-responders" value="yes" checked' in text
    assert 'id="step-2-coordinators" name="step-2-coordinators" value="yes" checked' in text
    assert 'id="step-1-coordinators" name="step-1-coordinators" value="yes">' in text
    assert 'id="step-2-repeat" name="step-2-repeat" value="2"' in text
    assert 'id="step-1-notify-all" name="step-1-notify" value="all" checked' in text
    assert 'id="contact_timeout" name="contact_timeout" value="3600"' in text
    assert 'id="step-3-schedules"' in text, "one empty row to add a step"
    assert 'id="step-4-schedules"' not in text
    assert "Schedules and rotations: care-week, nights." in text
    assert "the escalation service adds one that does" in text
    assert 'id="team_id"' not in text, "the default applies to every team"
    assert 'action="/coordinator/policies/default/delete"' in text
    assert "Go back to the built-in default" in text
    assert "Delete this policy" not in text


def test_a_stored_policy_is_shown_and_saved_back_exactly(console: Console) -> None:
    api = fake(console)
    api.known_schedules = ["care-week", "nights"]
    stored = Policy(
        name="platform-high",
        team_id="platform",
        severity="high",
        steps=[
            step(
                COORDINATORS,
                PolicyTarget(kind="schedule", schedule="nights"),
                PolicyTarget(kind="people", people=["rosa", "sam"]),
                PolicyTarget(kind="schedule", schedule="care-week"),
                PolicyTarget(kind="people", people=["ben"]),
                PolicyTarget(kind="responders"),
                notify="round_robin",
                timeout=120,
                repeat=3,
            ),
            step(PolicyTarget(kind="people", people=["cora"]), timeout=60),
            step(COORDINATORS, timeout=60),
        ],
        contact_timeout_seconds=7200,
        urgent_from="critical",
        unanswered_interval_seconds=600,
    )
    api.stored_policies[stored.name] = stored
    console.sign_in()
    page = console.client.get("/coordinator/policies/platform-high")
    text = page.text
    assert "<h1>Escalation policy platform-high</h1>" in text
    assert 'id="team_id" name="team_id" value="platform"' in text
    assert '<option value="high" selected>' in text
    assert 'value="nights, care-week"' in text and 'value="rosa, sam; ben"' in text
    assert 'id="step-1-notify-round_robin" name="step-1-notify" value="round_robin" checked' in text
    assert "Delete this policy" in text
    form = form_of(text, "/coordinator/policies/platform-high")
    answer = post(
        console, "/coordinator/policies/platform-high", "/coordinator/policies/platform-high", form
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/coordinator/policies/platform-high"
    ((name, sent),) = api.called("save_policy")
    assert name == "platform-high"
    assert sent == stored, "saving without a change sends the same policy"
    assert "The escalation policy was saved." in console.client.get(answer.headers["location"]).text


def test_policies_stored_in_the_old_form_are_read(console: Console) -> None:
    old = Policy.model_validate(
        {
            "steps": [
                {"target": "rotation:weekday", "timeout_seconds": 300, "repeat": 2},
                {"target": "person:ada", "timeout_seconds": 60},
                {"targets": ["responders", {"kind": "coordinators"}], "timeout_seconds": 60},
            ],
            "contact_timeout_seconds": 3600,
        }
    )
    assert old.steps[0].targets == [PolicyTarget(kind="schedule", schedule="weekday")]
    assert old.steps[1].targets == [PolicyTarget(kind="people", people=["ada"])]
    assert [t.kind for t in old.steps[2].targets] == ["responders", "coordinators"]
    fake(console).stored_policies["default"] = old
    console.sign_in()
    text = console.client.get("/coordinator/policies/default").text
    assert 'id="step-1-schedules" name="step-1-schedules" value="weekday"' in text
    assert 'id="step-2-people" name="step-2-people" value="ada"' in text


def test_invalid_policy_values_are_shown_by_field_and_nothing_is_saved(console: Console) -> None:
    console.sign_in()
    answer = post(
        console,
        "/coordinator/policies/new",
        "/coordinator/policies/new",
        team_form(
            name="Platform High",
            team_id="",
            severity="",
            **{
                "step-1-schedules": "Care Week",
                "step-1-people": "rosa, rosa",
                "step-1-notify": "sometimes",
                "step-1-timeout": "0",
                "step-1-repeat": "9",
                "unanswered_interval": "86401",
            },
        ),
    )
    assert answer.status_code == 422
    text = answer.text
    assert "<title>Error: Add an escalation policy" in text
    for field_name in (
        "name",
        "team_id",
        "step-1-schedules",
        "step-1-people",
        "step-1-notify",
        "step-1-timeout",
        "step-1-repeat",
        "unanswered_interval",
    ):
        assert f'href="#q-{field_name}"' in text, field_name
    assert "Name a team, a severity or both" in text
    assert "Each person can be named once in a step." in text
    assert 'aria-describedby="step-1-timeout-hint step-1-timeout-error"' in text
    assert 'value="Care Week"' in text and 'value="Platform High"' in text, "shown again"
    assert fake(console).called("save_policy") == []


def test_a_policy_without_steps_is_refused(console: Console) -> None:
    console.sign_in()
    answer = post(
        console,
        "/coordinator/policies/default",
        "/coordinator/policies/default",
        policy_form(**{"step-1-schedules": "", "step-2-coordinators": "-"}),
    )
    assert answer.status_code == 422
    assert "The policy needs at least one step" in answer.text
    assert 'href="#q-step-1-targets"' in answer.text


def test_ten_steps_and_the_coordinators_step_are_the_most(console: Console) -> None:
    rows = {f"step-{n}-responders": "yes" for n in range(1, 12)}
    rows.update({f"step-{n}-timeout": "60" for n in range(1, 12)})
    rows.update({f"step-{n}-repeat": "1" for n in range(1, 12)})
    console.sign_in()
    answer = post(
        console,
        "/coordinator/policies/default",
        "/coordinator/policies/default",
        {**policy_form(), **rows},
    )
    assert answer.status_code == 422
    assert 'href="#q-step-11-targets"' in answer.text
    assert answer.text.count('<li><a href="#q-') == 1
    rows["step-11-coordinators"] = "yes"
    answer = post(
        console,
        "/coordinator/policies/default",
        "/coordinator/policies/default",
        {**policy_form(), **rows},
    )
    assert answer.status_code == 303
    ((_name, sent),) = fake(console).called("save_policy")
    assert len(sent.steps) == 11


def test_the_default_is_put_and_confirmed(console: Console) -> None:
    console.sign_in()
    answer = post(
        console, "/coordinator/policies/default", "/coordinator/policies/default", policy_form()
    )
    assert answer.status_code == 303
    ((name, policy),) = fake(console).called("save_policy")
    assert name == "default"
    assert policy == Policy(
        steps=[
            step(PolicyTarget(kind="schedule", schedule="care-week"), repeat=2),
            step(COORDINATORS, timeout=600),
        ],
        contact_timeout_seconds=3600,
        urgent_from="critical",
        unanswered_interval_seconds=900,
    )
    assert fake(console).case_calls[-1][1] == "access-1", "as the signed-in coordinator"
    text = console.client.get("/coordinator/policies/default").text
    assert "The escalation policy was saved." in text
    assert 'value="care-week"' in text


def test_a_team_policy_is_added_and_listed(console: Console) -> None:
    api = fake(console)
    console.sign_in()
    page = console.client.get("/coordinator/policies/new")
    assert page.status_code == 200
    assert "<h1>Add an escalation policy</h1>" in page.text
    assert 'id="name"' in page.text and "Delete this policy" not in page.text
    answer = post(console, "/coordinator/policies/new", "/coordinator/policies/new", team_form())
    assert answer.status_code == 303
    assert answer.headers["location"] == "/coordinator/policies/platform-high"
    ((name, sent),) = api.called("save_policy")
    assert name == "platform-high"
    assert sent == Policy(
        name="platform-high",
        team_id="platform",
        severity="high",
        steps=[step(PolicyTarget(kind="people", people=["rosa"]), timeout=120)],
        contact_timeout_seconds=3600,
        urgent_from="high",
        unanswered_interval_seconds=900,
    )
    shown = console.client.get("/coordinator/policies/platform-high").text
    assert 'id="step-2-coordinators" name="step-2-coordinators" value="yes" checked' in shown, (
        "the coordinators step the service appends is shown"
    )
    listed = console.client.get("/coordinator/policies").text
    assert "Team platform, high cases" in listed and "Rosa, then all coordinators" in listed


def test_a_new_policy_may_not_take_a_name_in_use(console: Console) -> None:
    console.sign_in()
    for name, message in (
        ("default", "A policy has this name already"),
        ("new", "A policy cannot be called"),
    ):
        answer = post(
            console, "/coordinator/policies/new", "/coordinator/policies/new", team_form(name=name)
        )
        assert answer.status_code == 422 and message in answer.text
        assert 'href="#q-name"' in answer.text
    assert fake(console).called("save_policy") == []


def test_a_policy_for_a_team_and_severity_another_has_is_refused(console: Console) -> None:
    api = fake(console)
    api.stored_policies["platform-urgent"] = Policy(
        name="platform-urgent", team_id="platform", severity="high", steps=[step(COORDINATORS)]
    )
    console.sign_in()
    answer = post(console, "/coordinator/policies/new", "/coordinator/policies/new", team_form())
    assert answer.status_code == 422
    text = answer.text
    clash = "Another policy, platform-urgent, already applies to this team and severity."
    assert text.count(clash) == 3, "in the summary, on the team and on the severity"
    assert 'href="#q-team_id"' in text and 'id="severity-error"' in text
    assert api.called("save_policy") == []


def test_a_clash_the_service_finds_is_shown_on_the_team_and_severity(console: Console) -> None:
    api = fake(console)

    async def clash(token: str, name: str, policy: Policy) -> Policy:
        api.case_calls.append(("save_policy", token, (name, policy)))
        raise PolicyClashError("escalation", ["platform-high", "platform-late"])

    api.save_policy = clash  # type: ignore[method-assign]
    console.sign_in()
    answer = post(console, "/coordinator/policies/new", "/coordinator/policies/new", team_form())
    assert answer.status_code == 409
    assert "Another policy, platform-late, already applies" in answer.text
    assert 'id="team_id-error"' in answer.text and 'id="severity-error"' in answer.text
    assert len(api.called("save_policy")) == 1, "a refused change is never sent again"


def test_a_field_the_service_refuses_is_named_on_its_row(console: Console) -> None:
    api = fake(console)
    console.sign_in()
    form = policy_form(
        **{
            "step-1-schedules": "",
            "step-3-schedules": "nights",
            "step-3-timeout": "60",
            "step-3-repeat": "1",
        }
    )
    form["step-1-responders"] = "yes"
    form["step-2-coordinators"] = "-"
    form["step-2-timeout"] = ""
    form = {k: v for k, v in form.items() if v != "-"}
    answer = post(console, "/coordinator/policies/default", "/coordinator/policies/default", form)
    assert answer.status_code == 422, answer.text
    text = answer.text
    assert 'href="#q-step-3-schedules"' in text, "the second step sent is the form's third row"
    assert "The escalation service did not accept this value." in text
    assert len(api.called("save_policy")) == 1


def test_a_policy_is_deleted_after_confirmation(console: Console) -> None:
    api = fake(console)
    api.stored_policies["care"] = Policy(name="care", team_id="care", steps=[step(COORDINATORS)])
    console.sign_in()
    unticked = post(console, "/coordinator/policies/care", "/coordinator/policies/care/delete", {})
    assert unticked.status_code == 422
    assert 'href="#q-confirm"' in unticked.text and "Tick the box to confirm." in unticked.text
    assert api.called("delete_policy") == []
    answer = post(
        console,
        "/coordinator/policies/care",
        "/coordinator/policies/care/delete",
        {"confirm": "yes"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/coordinator/policies"
    assert api.called("delete_policy") == [("care",)]
    listed = console.client.get("/coordinator/policies").text
    assert "The policy was deleted." in listed
    assert 'href="/coordinator/policies/care"' not in listed


def test_the_default_goes_back_to_the_built_in_one(console: Console) -> None:
    api = fake(console)
    console.sign_in()
    post(console, "/coordinator/policies/default", "/coordinator/policies/default", policy_form())
    assert api.stored_policies["default"].steps[0].targets[0].kind == "schedule"
    for _ in range(2):  # the second time none is stored (404): the built-in one is in force
        answer = post(
            console,
            "/coordinator/policies/default",
            "/coordinator/policies/default/delete",
            {"confirm": "yes"},
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/coordinator/policies/default"
        text = console.client.get(answer.headers["location"]).text
        assert "The built-in default policy is in force again." in text
    assert api.stored_policies["default"] == default_policy()
    assert len(api.called("delete_policy")) == 2


def test_an_unknown_policy_is_not_found(console: Console) -> None:
    console.sign_in()
    assert console.client.get("/coordinator/policies/nobody").status_code == 404
    assert console.client.get("/coordinator/policies/Not%20A%20Name").status_code == 404
    assert fake(console).called("policy") == [("nobody",)]


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


def report_week(week: str, **parts: Any) -> dict[str, Any]:
    """A week of recognition's programme report; a part left out is withheld."""
    return {"week": week, "satisfaction": {}, "withheld": [], **parts}


def test_the_programme_report_shows_recognitions_closed_weeks_as_tables_and_charts(
    console: Console,
) -> None:
    fake(console).measures = {
        "k": 5,
        "weeks": [
            report_week(
                "2026-11-09",
                participation={"people": 40, "members": 50, "rate": 0.8},
                cases={
                    "opened": 6,
                    "acknowledged": 6,
                    "time_to_acknowledge_seconds": {"median": 240.0, "p90": 3900.0},
                    "time_to_first_contact_seconds": {"median": None, "p90": None},
                    "outcomes": {"supported": 4, "no_contact": 1},
                },
                satisfaction={"person": {"responses": 5, "mean_score": 4.4}},
            ),
            report_week(
                "2026-11-16",
                participation={"people": 20, "members": 50, "rate": 0.4},
                cases={
                    "opened": 5,
                    "acknowledged": 5,
                    "time_to_acknowledge_seconds": {"median": 60.0, "p90": 120.0},
                    "time_to_first_contact_seconds": {"median": 600.0, "p90": 900.0},
                    "outcomes": {"supported": 2},
                },
            ),
            report_week("2026-11-23", withheld=["participation: fewer than 5 people"]),
        ],
    }
    console.sign_in()
    page = console.client.get("/coordinator/report")
    assert page.status_code == 200
    text = page.text
    assert "last 12 closed weeks" in text and "at least 5 people" in text
    # Newest first; a withheld week says so in every table and shows no figure.
    assert text.index("Nov 23, 2026") < text.index("Nov 16, 2026") < text.index("Nov 9, 2026")
    assert '<td colspan="2" class="withheld-cell">Withheld</td>' in text
    assert '<td colspan="6" class="withheld-cell">Withheld</td>' in text
    assert "<td>40</td><td>80 %</td>" in text and "<td>20</td><td>40 %</td>" in text
    assert "<td>6</td><td>6</td><td>4 min</td><td>1 h 05 min</td><td>\u2013</td>" in text
    assert "<td>1 min</td><td>2 min</td><td>10 min</td><td>15 min</td>" in text
    # Outcomes over the weeks shown, most frequent first.
    assert text.index("Supported: we talked") < text.index("No contact")
    assert "<td>6</td></tr>" in text and "<td>1</td></tr>" in text
    assert "4.4 of 5 (5 answers)" in text
    assert text.count('<svg role="img"') == 2 and 'class="chart-bar"' in text
    assert 'width="288.0"' in text, "80 % of the 360-unit bar"
    assert "style=" not in text
    assert fake(console).case_calls[-1][0] == "programme"


def test_a_report_with_every_figure_withheld_says_why(console: Console) -> None:
    fake(console).measures = {
        "k": 5,
        "weeks": [report_week("2026-11-23", withheld=["cases: fewer than 5 people"])],
    }
    console.sign_in()
    text = console.client.get("/coordinator/report").text
    assert "Every figure of these weeks is withheld" in text and "<svg" not in text


def test_my_cases_leads_to_the_coordinator_pages_and_each_case_page(console: Console) -> None:
    fake(console).cases = [sample_case("dddd4444-x")]
    console.sign_in()
    text = console.client.get("/cases").text
    assert 'href="/coordinator"' in text and 'href="/cases/dddd4444-x"' in text


def test_a_participation_rate_above_one_never_draws_past_its_chart() -> None:
    """A week's people are fixed when it is first served, the members are today's: a team
    that has shrunk can read above 100 % (review 3, L4). The figure stays as given; the bar
    stops at the chart's edge."""
    report = programme_report(
        {
            "k": 5,
            "weeks": [
                {"week": "2026-11-16", "participation": {"people": 6, "members": 4, "rate": 1.5}},
                {"week": "2026-11-09", "participation": {"people": 5, "members": 10, "rate": 0.5}},
            ],
        }
    )
    shares = {bar.key: (bar.value, bar.share) for bar in report.participation}
    assert shares == {"2026-11-16": (1.5, 1.0), "2026-11-09": (0.5, 0.5)}
