"""Aggregates that cannot be subtracted (issue 11, "Why" 6): a team's trend read before and
after one more check-in (in the open week, or dated back into a closed one) is the same; no
window of weeks gives away a hidden week; the organisation's pulse minus the visible teams
never isolates a small team; the programme's measures (recognition's and escalation's) read
before and after one more case and its feedback are the same (no service serves a live
aggregate); and only a team's manager and coordinators read its trend.

The team has six members and a manager (``People.team``). Its history is made over HTTP as
the members would: six people checked in three weeks ago and two weeks ago, two last week
(a week under k = 5). Pulse history for the organisation is written into the recognition
service's table as the service itself records answers (a week closes before it is
reported, so a test cannot answer in time over HTTP).
"""

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.security.flows import alerted, checkin_body, open_case, pulse_body
from tests.security.stack import Person, Stack, until

pytestmark = pytest.mark.security

K = 5


def monday(weeks_ago: int) -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday(), weeks=weeks_ago)


def during(weeks_ago: int) -> str:
    """Tuesday noon (UTC) of the week ``weeks_ago`` weeks before this one."""
    at = datetime.combine(monday(weeks_ago) + timedelta(days=1), time(12), UTC)
    return at.isoformat()


async def post_checkin(stack: Stack, person_id: str, **answers: Any) -> None:
    body = checkin_body(person_id, **answers)
    answer = await stack.call("POST", "checkin", "/v1/checkins", stack.bearer(person_id), json=body)
    assert answer.status_code == 202, answer.text


async def trend(stack: Stack, weeks: int = 4, reader: str | None = None) -> dict[str, Any]:
    """The team's trend as its manager (or ``reader``) reads it."""
    answer = await stack.call(
        "GET",
        "checkin",
        f"/v1/teams/{stack.people.team}/trends",
        stack.bearer(reader or stack.people.manager.id),
        params={"weeks": str(weeks)},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
async def history(stack: Stack) -> dict[str, Any]:
    """The team's closed weeks, then the trend as first read (weeks=4)."""
    members = [m.id for m in stack.people.members]
    for n, member in enumerate(members):
        await post_checkin(stack, member, occurred_at=during(3), mood=3 + n % 2, stress=2)
        await post_checkin(stack, member, occurred_at=during(2), mood=2 + n % 3, stress=3)
    for member in members[:2]:
        await post_checkin(stack, member, occurred_at=during(1), mood=1, stress=5)
    before = await trend(stack)
    assert before["available"] is True
    shown = [w for w in before["weeks"] if w["figures"] is not None]
    assert shown, before  # something is published: the attacks below have a target
    return before


def weeks_of(body: dict[str, Any]) -> dict[str, Any]:
    return {w["week_start"]: w["figures"] for w in body["weeks"]}


async def test_one_more_check_in_this_week_changes_no_trend(
    stack: Stack, history: dict[str, Any]
) -> None:
    victim = stack.people.members[2].id
    await post_checkin(stack, victim, mood=1, stress=5, energy=1)  # the open week
    assert await trend(stack) == history


async def test_a_check_in_dated_back_into_a_closed_week_changes_no_trend(
    stack: Stack, history: dict[str, Any]
) -> None:
    """The same attack with a check-in dated into a week already read: its figures stay
    those first published, so the difference reveals nothing."""
    victim = stack.people.members[3].id
    for weeks_ago in (3, 2, 1):
        await post_checkin(stack, victim, occurred_at=during(weeks_ago), mood=1, stress=5)
    assert await trend(stack) == history


async def test_no_window_of_weeks_gives_away_the_hidden_week(
    stack: Stack, history: dict[str, Any]
) -> None:
    last_week = monday(1).isoformat()
    for weeks in range(1, 7):
        body = await trend(stack, weeks)
        if not body["available"]:
            continue
        figures = weeks_of(body)
        assert figures.get(last_week) is None, (weeks, body)  # two people: never shown
        if last_week in figures:
            # Hidden with at least one other week (so the hidden ones cover >= k people),
            # and no whole-window figure to subtract the shown weeks from.
            assert sum(1 for f in figures.values() if f is None) >= 2, (weeks, body)
            assert body["overall"] is None, (weeks, body)
        for shown in filter(None, figures.values()):
            assert shown["people"] >= K, (weeks, body)


async def test_only_the_teams_manager_and_coordinators_read_its_trend(
    stack: Stack, history: dict[str, Any]
) -> None:
    people = stack.people
    path = f"/v1/teams/{people.team}/trends"
    refused = {
        "another team's manager": stack.bearer(people.other_manager.id),
        "a member of the team": stack.bearer(people.members[0].id),
        "a peer responder": stack.bearer(people.responder_a.id),
        "an employee claiming to manage it": stack.bearer(
            people.employee.id, roles=["team_manager", "coordinator"], manages=[people.team]
        ),
        "the BI tool (reports:read)": stack.key("bi-tool"),
        "the survey tool": stack.key("survey-tool"),
    }
    for who, credential in refused.items():
        answer = await stack.call("GET", "checkin", path, credential)
        assert answer.status_code == 403, (who, answer.text)
        assert "figures" not in answer.text
    assert await trend(stack, reader=people.coordinator.id) == history


# ---- the organisation's pulse ------------------------------------------------------------------


async def report(
    stack: Stack,
    team_id: str | None = None,
    reader: dict[str, str] | None = None,
    weeks: int = 4,
) -> dict[str, Any]:
    """Recognition's programme report (``weeks`` closed weeks) as the BI tool (or ``reader``)
    reads it. A week is stored the first time it is served (any reading in the session), so a
    test that writes a closed week's history uses a week no earlier reading reached."""
    params = {"weeks": str(weeks)} | ({"team_id": team_id} if team_id else {})
    answer = await stack.call(
        "GET", "recognition", "/v1/reports/programme", reader or stack.key("bi-tool"), params=params
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    body.pop("generated_at", None)
    return body


async def unserved(stack: Stack, week: date) -> None:
    """Forget recognition's stored copy of ``week``: the history a test writes straight into
    a closed week must be there before the week's first reading, as it is in production (a
    week is first read after it closes). Other tests of the session, in any order, may have
    read that week already (on a Monday before midnight even a 12-week reading reaches one
    week further back)."""
    await stack.rows("recognition", "DELETE FROM report_weeks WHERE week = $1", week)


def pulse_of(body: dict[str, Any], week: date) -> dict[str, Any] | None:
    found = [w for w in body["weeks"] if w["week"] == week.isoformat()]
    return found[0]["pulse"] if found else None


async def test_org_pulse_minus_the_visible_teams_isolates_no_small_team(stack: Stack) -> None:
    run = secrets.token_hex(3)
    teams = {f"pa-{run}": (6, 4), f"pb-{run}": (7, 4), f"pc-{run}": (2, 1)}
    week = monday(13)  # beyond the 12 weeks other tests read
    answered = datetime.combine(week + timedelta(days=2), time(10), UTC)
    for team, (size, helps) in teams.items():
        await stack.rows(
            "recognition",
            "INSERT INTO pulse_responses (survey_id, respondent, response_id, team_id,"
            " answered_at, programme_helps, recorded_at)"
            " SELECT 'sec', $1 || n, $1 || 'r' || n, $1, $2, $3, $2"
            " FROM generate_series(1, $4) AS n",
            team,
            answered,
            helps,
            size,
        )
    await unserved(stack, week)
    org = pulse_of(await report(stack, weeks=14), week)
    assert org is not None and org["respondents"] == 15  # the history is in the report
    left = org["respondents"]
    for team in teams:
        shown = pulse_of(await report(stack, team, weeks=14), week)
        if shown is not None:
            assert shown["respondents"] >= K
            left -= shown["respondents"]
    # Whatever the organisation's figure minus the visible teams is, it covers >= k people
    # (or nothing at all): the two-person team's answers are never alone in it.
    assert left == 0 or left >= K, left
    assert pulse_of(await report(stack, f"pc-{run}", weeks=14), week) is None


async def test_one_more_pulse_answer_changes_no_report(stack: Stack) -> None:
    before = await report(stack)
    rae = stack.people.rae
    for extra in ({}, {"occurred_at": during(2)}):
        body = pulse_body(rae, helps=1, **extra)
        answer = await stack.call(
            "POST", "recognition", "/v1/pulse", stack.bearer(rae.id), json=body
        )
        assert answer.status_code == 202, answer.text
    assert await report(stack) == before


async def measures(stack: Stack, reader: dict[str, str]) -> dict[str, Any]:
    """Escalation's programme measures (12 closed weeks) as ``reader`` reads them."""
    answer = await stack.call("GET", "escalation", "/v1/metrics/programme", reader)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    assert len(body["weeks"]) == 12
    return body


async def test_one_more_feedback_changes_no_programme_measure(stack: Stack) -> None:
    """The programme's measures (time to acknowledge and to first contact, outcomes,
    satisfaction), recognition's report and escalation's closed-week measures alike, are the
    same before and after one more case and its feedback: escalation once served all-time
    running totals, where one more feedback gave that person's score by subtraction
    (``n * mean_after - (n - 1) * mean_before``) and one more resolved case its outcome."""
    coordinator = stack.bearer(stack.people.coordinator.id)
    # Someone new, known everywhere before the first reading (rates divide by the members).
    person = Person(f"fb-{stack.people.suffix}", "Fen Back", "team-f")
    await stack.publish("directory.people", [person.record()])
    for service in ("checkin", "escalation", "recognition"):
        assert await until(
            lambda service=service: stack.value(
                service, "SELECT count(*) FROM directory_people WHERE person_id = $1", person.id
            ),
            timeout=60,
        ), service
    # A closed week with satisfaction shown: six people's feedback, recorded in its week (one
    # no earlier reading reached).
    week = monday(20)
    given = datetime.combine(week + timedelta(days=2), time(10), UTC)
    run = secrets.token_hex(3)
    await stack.rows(
        "recognition",
        "INSERT INTO case_feedback (case_id, given_by, subject_id, score, given_at, recorded_at)"
        " SELECT $1 || n, 'person', $1 || 's' || n, 4, $2, $2 FROM generate_series(1, 6) AS n",
        f"fb-{run}-",
        given,
    )
    await unserved(stack, week)
    before = await report(stack, weeks=22)
    escalation_before = [
        await measures(stack, reader) for reader in (stack.key("bi-tool"), coordinator)
    ]
    (shown,) = [w for w in before["weeks"] if w["week"] == week.isoformat()]
    assert shown["satisfaction"]["person"]["responses"] >= K, shown  # a target to move

    case_id = await open_case(stack, person)
    responder = stack.bearer(await alerted(stack, case_id))
    steps = (("acknowledge", None), ("contact", None), ("resolve", {"outcome": "declined"}))
    for action, body in steps:
        done = await stack.call(
            "POST", "escalation", f"/v1/cases/{case_id}/{action}", responder, json=body
        )
        assert done.status_code == 200, (action, done.text)
    feedback = await stack.call(
        "POST",
        "escalation",
        f"/v1/cases/{case_id}/feedback",
        stack.bearer(person.id),
        json={"score": 1, "given_by": "person"},
    )
    assert feedback.status_code == 202, feedback.text
    # Recognition has folded the case and its feedback in before the second reading.
    assert await until(
        lambda: stack.value(
            "recognition",
            "SELECT count(*) FROM case_feedback WHERE case_id = $1 AND given_by = 'person'",
            case_id,
        ),
        timeout=60,
    )
    assert await report(stack, weeks=22) == before
    assert await report(stack, reader=coordinator, weeks=22) == before
    # Escalation's own measures (closed weeks, each cell k >= 5 or withheld) move neither.
    after = [await measures(stack, reader) for reader in (stack.key("bi-tool"), coordinator)]
    assert after == escalation_before
