"""Differencing attacks on the programme report (issue 11, item 4): each tries to work out a
group of fewer than five people from figures that are each shown, and recovers nothing.

1. The organisation's figure minus the teams shown (the issue's attack: a hidden 2-person
   team's pulse mean).
2. A report read before and after one more response in the current week (and one arriving
   late for a closed week).
3. Two windows' totals subtracted to reveal a hidden week.
4. A report read before and after a contributor's erasure (which deletes their check-in
   weeks, pulse answers, feedback and case facts), whichever group was read first.
"""

import asyncio
import copy
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kinship_contracts.cases import CaseEventKind
from kinship_contracts.privacy import SubjectsErased
from kinship_recognition.domain.reports import (
    COMPLEMENTARY,
    K_MIN,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    Sources,
    TeamParticipation,
    TeamPulse,
    Window,
    build_report,
    closes_at,
    release,
)
from kinship_recognition.handlers.erasure import ErasureTopics, erase_subjects
from kinship_recognition.handlers.reports import programme_report
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    FakeRecognitionUnitOfWork,
    Person,
    case_event,
    pulse,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
QUESTION = "programme_helps"


# 1. The organisation minus the teams shown -------------------------------------------


async def test_org_pulse_minus_visible_teams_does_not_reveal_a_hidden_two_person_team() -> None:
    # The attack, end to end over the report use case: teams of 6, 7 and 2 answer a
    # pulse survey; the 2-person team answers 1, everyone else 4.
    teams = {"team-a": 6, "team-b": 7, "team-c": 2}
    people = {f"{t}-{n}": Person(t) for t, size in teams.items() for n in range(size)}
    uow = FakeRecognitionUnitOfWork(people)
    answered = NOW - timedelta(days=9)  # last week: closed
    async with uow:
        for person, row in people.items():
            helps = 1 if row.team_id == "team-c" else 4
            body = pulse(f"p-{person}", person, answered, programme_helps=helps)
            await uow.add_pulse(body, f"s-{person}", answered)
    async with uow:
        org = await programme_report(uow, 2, None, NOW)
        by_team = {team: await programme_report(uow, 2, team, NOW) for team in teams}

    week = org.weeks[-1]
    assert week.pulse is not None and week.pulse.respondents == 15  # the headline stays
    left, total = (
        week.pulse.respondents,
        week.pulse.respondents * week.pulse.mean_agreement[QUESTION],
    )
    for report in by_team.values():
        shown = report.weeks[-1].pulse
        if shown is not None:
            left -= shown.respondents
            total -= shown.respondents * shown.mean_agreement[QUESTION]
    assert left >= K_MIN  # the 2 people hide among at least 5: team-a is withheld with them
    assert by_team["team-b"].weeks[-1].pulse is not None
    assert f"pulse: {COMPLEMENTARY}" in by_team["team-a"].weeks[-1].withheld


def test_a_withheld_team_takes_the_smallest_other_teams_with_it() -> None:
    decision = release(15, {"team-a": 6, "team-b": 7, "team-c": 2})
    assert decision.total and decision.teams == {"team-b"}
    assert decision.reasons == {"team-c": "fewer than 5 people", "team-a": COMPLEMENTARY}


def test_people_with_no_team_are_hidden_like_a_small_team() -> None:
    # 3 people without a team: organisation minus team-a would be exactly them.
    assert release(13, {None: 3, "team-a": 10}).teams == frozenset()


def test_the_organisation_is_withheld_when_no_team_is_left_to_withhold() -> None:
    decision = release(8, {"team-a": 6, "team-b": 2})
    # Withholding team-a too would hide 8: allowed, and preferred over the headline.
    assert decision.total and decision.teams == frozenset()
    only_small = release(7, {None: 3, "team-b": 4})
    assert only_small.total and only_small.teams == frozenset()
    # A lone small group with nothing to hide it among: the organisation's figure goes.
    assert release(3, {"team-a": 3}).total is False


def test_groups_of_five_or_more_with_nothing_hidden_are_all_shown() -> None:
    decision = release(17, {"team-a": 5, "team-b": 12})
    assert decision.total and decision.teams == {"team-a", "team-b"}
    assert decision.reasons == {}


@dataclass(frozen=True)
class Answer:
    """One person's pulse answer in a week, with their team (None: not known)."""

    week: int
    team: str | None
    person: int
    value: int


def tabulate(answers: Sequence[Answer], window: Window) -> Sources:
    """Sources as the adapter would count ``answers`` (participation: whoever answered)."""
    mondays = window.weeks()
    org_pulse: list[PulseWeek] = []
    org_people: list[ParticipationWeek] = []
    team_pulse: list[TeamPulse] = []
    team_people: list[TeamParticipation] = []
    in_window = [a for a in answers if a.week < len(mondays)]
    for index, monday in enumerate(mondays):
        week = [a for a in in_window if a.week == index]
        if not week:
            continue
        org_pulse.append(PulseWeek(monday, len(week), {QUESTION: mean(week)}))
        org_people.append(ParticipationWeek(monday, len(week)))
        for team in {a.team for a in week}:
            rows = [a for a in week if a.team == team]
            team_pulse.append(TeamPulse(monday, team, len(rows), {QUESTION: mean(rows)}))
            team_people.append(TeamParticipation(monday, team, len(rows)))
    return Sources(
        window=window,
        members=100,
        participation=org_people,
        cases=[],
        feedback=[],
        pulse=org_pulse,
        team_participation=team_people,
        team_pulse=team_pulse,
    )


def mean(answers: Sequence[Answer]) -> float:
    return statistics.fmean(a.value for a in answers)


TEAMS = ["team-a", "team-b", "team-c", "team-d", None]


@st.composite
def answers(draw: st.DrawFn, weeks: int = 3) -> list[Answer]:
    """Each person answers at most once a week, in one team; teams of 0 to 12 people, and
    quiet weeks (every team small) as often as busy ones."""
    found: list[Answer] = []
    for week in range(weeks):
        largest = draw(st.sampled_from([0, 2, 4, 12]))
        for team in TEAMS:
            size = draw(st.integers(0, largest if team else min(largest, 4)))
            found += [Answer(week, team, person, draw(st.integers(1, 5))) for person in range(size)]
    return found


def reports(sources: Sources) -> tuple[ProgrammeReport, dict[str, ProgrammeReport]]:
    org = build_report(sources, None, NOW)
    teams = {team: build_report(sources, team, NOW) for team in TEAMS if team is not None}
    return org, teams


@settings(max_examples=300, deadline=None)
@given(answers())
def test_org_minus_the_visible_teams_never_covers_fewer_than_k(found: list[Answer]) -> None:
    window = Window(date(2026, 11, 2), date(2026, 11, 23))
    org, teams = reports(tabulate(found, window))
    for index, week in enumerate(org.weeks):
        shown_teams = {t: r.weeks[index] for t, r in teams.items()}
        for team, figures in shown_teams.items():
            people = [a for a in found if a.week == index and a.team == team]
            if figures.pulse is not None:
                assert len(people) >= K_MIN
            if figures.participation is not None and people:
                assert figures.participation.people >= K_MIN
        if week.pulse is not None:
            left = week.pulse.respondents - sum(
                f.pulse.respondents for f in shown_teams.values() if f.pulse is not None
            )
            assert left == 0 or left >= K_MIN
        if week.participation is not None:
            left = week.participation.people - sum(
                f.participation.people for f in shown_teams.values() if f.participation is not None
            )
            assert left == 0 or left >= K_MIN


# 2. Before and after one more response -------------------------------------------------


@dataclass(frozen=True)
class Response:
    """A pulse response ``days`` before NOW, by one of a few people of a few teams."""

    days: float
    team: int
    person: int
    value: int


async def _report_unchanged(
    responses: Sequence[Response], extra: Response, survey: str, weeks: int
) -> None:
    """Reports (the organisation's and a team's) before and after ``extra`` is recorded NOW
    are the same."""
    people = {f"p{t}-{n}": Person(f"team-{t}") for t in range(3) for n in range(8)}
    uow = FakeRecognitionUnitOfWork(people)

    async def answer(response: Response, recorded: datetime, survey: str) -> None:
        at = NOW - timedelta(days=response.days)
        person = f"p{response.team}-{response.person}"
        body = pulse(f"{survey}-{person}", person, at, survey, programme_helps=response.value)
        await uow.add_pulse(body, f"s-{person}", recorded)

    async with uow:
        for response in responses:
            await answer(response, NOW - timedelta(days=response.days), "2026-11")
    async with uow:
        before = (
            await programme_report(uow, weeks, None, NOW),
            await programme_report(uow, weeks, "team-0", NOW),
        )
    async with uow:
        await answer(extra, NOW, survey)
    async with uow:
        after = (
            await programme_report(uow, weeks, None, NOW),
            await programme_report(uow, weeks, "team-0", NOW),
        )
    assert before == after


responses = st.lists(
    st.builds(
        Response,
        days=st.floats(1.5, 40),
        team=st.integers(0, 2),
        person=st.integers(0, 7),
        value=st.integers(1, 5),
    ),
    max_size=60,
)


SURVEYS = st.sampled_from(["2026-11", "2026-12"])  # a new answer, or a changed one


@settings(max_examples=100, deadline=None)
@given(
    responses,
    st.floats(0, 2.4),  # NOW is Wednesday noon: back to Monday 02:24 is the current week
    st.integers(0, 2),
    st.integers(0, 7),
    st.integers(1, 5),
    SURVEYS,
    st.integers(1, 6),
)
def test_one_more_response_in_the_current_week_changes_no_report(
    earlier: list[Response],
    days: float,
    team: int,
    person: int,
    value: int,
    survey: str,
    weeks: int,
) -> None:
    newest = Response(days, team, person, value)
    asyncio.run(_report_unchanged(earlier, newest, survey, weeks))


@settings(max_examples=100, deadline=None)
@given(
    responses,
    st.floats(2.6, 40),
    st.integers(0, 2),
    st.integers(0, 7),
    st.integers(1, 5),
    SURVEYS,
    st.integers(1, 6),
)
def test_a_response_arriving_after_its_week_closed_changes_no_report(
    earlier: list[Response],
    days: float,
    team: int,
    person: int,
    value: int,
    survey: str,
    weeks: int,
) -> None:
    # Backdated, or delayed on the way: it is recorded NOW, after its own week closed.
    late = Response(days, team, person, value)
    at = NOW - timedelta(days=days)
    assert closes_at(at.date() - timedelta(days=at.weekday())) <= NOW
    asyncio.run(_report_unchanged(earlier, late, survey, weeks))


def test_the_week_in_progress_and_last_week_before_it_closes_are_not_reported() -> None:
    monday_noon = datetime(2026, 11, 23, 12, tzinfo=UTC)  # last week ended 12 hours ago
    assert Window.closed(monday_noon, 1).weeks() == [date(2026, 11, 9)]
    tuesday = datetime(2026, 11, 24, 0, tzinfo=UTC)  # a day after: last week is closed
    assert Window.closed(tuesday, 2).weeks() == [date(2026, 11, 9), date(2026, 11, 16)]


@settings(max_examples=200)
@given(st.datetimes(min_value=datetime(2020, 1, 1), timezones=st.just(UTC)), st.integers(1, 52))
def test_every_week_of_a_window_has_closed(now: datetime, weeks: int) -> None:
    window = Window.closed(now, weeks)
    assert len(window.weeks()) == weeks
    assert all(closes_at(week) <= now for week in window.weeks())
    assert closes_at(window.end) > now  # the next week has not: it is never included


# 3. Two windows' totals ---------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(answers(weeks=5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2))
def test_two_windows_totals_never_differ_by_a_hidden_week(
    found: list[Answer], longer: int, shorter: int, shift: int
) -> None:
    # Windows of different lengths, and ending in different weeks (read at different times).
    end = date(2026, 11, 30)
    a = Window(end - timedelta(weeks=longer), end)
    b_end = end - timedelta(weeks=shift)
    b = Window(b_end - timedelta(weeks=shorter), b_end)
    first = 5 - longer
    in_a = [Answer(x.week - first, x.team, x.person, x.value) for x in found if x.week >= first]
    first_b = 5 - shift - shorter
    in_b = [
        Answer(x.week - first_b, x.team, x.person, x.value)
        for x in found
        if first_b <= x.week < 5 - shift
    ]
    for window, rows in ((a, in_a), (b, in_b)):
        org, teams = reports(tabulate(rows, window))
        for metric in ("participation", "cases", "pulse"):
            if getattr(org.period, metric) is not None:
                # Shown for the window only when every week of it is shown: the difference of
                # two windows is made of shown weeks.
                assert not any(w.startswith(f"{metric}:") for x in org.weeks for w in x.withheld)
        # People over several weeks are never counted (not the weeks added up).
        assert org.period.participation is None and org.period.pulse is None
        for report in teams.values():
            assert report.period.participation is None and report.period.pulse is None


# 4. Before and after an erasure -------------------------------------------------------


@dataclass(frozen=True)
class Contributor:
    """Someone of a team (None: not known) who took part in some closed weeks: checked in,
    answered the pulse survey, had a case opened and gave feedback on it."""

    team: str | None
    weeks: frozenset[int]
    helps: int | None
    score: int | None
    case: bool


WEEKS_BEFORE = [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]  # closed by NOW
GROUPS = ["team-a", "team-b", "team-c", None]

contributors = st.lists(
    st.builds(
        Contributor,
        team=st.sampled_from(GROUPS),
        weeks=st.frozensets(st.integers(0, 2), min_size=1),
        helps=st.none() | st.integers(1, 5),
        score=st.none() | st.integers(1, 5),
        case=st.booleans(),
    ),
    max_size=30,
)


async def history(found: Sequence[Contributor]) -> FakeRecognitionUnitOfWork:
    """Each contributor's facts, Tuesday to Thursday of their weeks, each recorded as it
    happened (inside its week: nothing here is late)."""
    # Someone whose team is not known is not in the directory (their answers have no team).
    people = {f"p{n}": Person(c.team) for n, c in enumerate(found) if c.team is not None}
    uow = FakeRecognitionUnitOfWork(people)
    async with uow:
        for n, c in enumerate(found):
            person, subject = f"p{n}", f"s{n}"
            for index in sorted(c.weeks):
                monday = WEEKS_BEFORE[index]
                tuesday = datetime.combine(monday, datetime.min.time(), UTC) + timedelta(days=1)
                uow.check_in(subject, monday, c.team)
                if c.helps is not None:
                    body = pulse(
                        f"{person}-{index}", person, tuesday, f"w{index}", programme_helps=c.helps
                    )
                    await uow.add_pulse(body, subject, tuesday)
                if c.case:
                    case_id = f"case-{person}-{index}"
                    opened = case_event(case_id, 1, CaseEventKind.OPENED, tuesday, subject)
                    await uow.record_case_fact(opened, tuesday)
                    later = tuesday + timedelta(days=1)
                    ack = case_event(case_id, 2, CaseEventKind.ACKNOWLEDGED, later, subject)
                    await uow.record_case_fact(ack, later)
                    if c.score is not None:
                        await uow.add_feedback(case_id, "person", subject, c.score, later, later)
    return uow


async def every_report(
    uow: FakeRecognitionUnitOfWork, weeks: int
) -> dict[str | None, ProgrammeReport]:
    async with uow:
        return {group: await programme_report(uow, weeks, group, NOW) for group in GROUPS}


async def _erasure_changes_nothing(
    found: list[Contributor], erased: int, first: str | None, weeks: int
) -> None:
    uow = await history(found)
    # What every group's report would have said had all been read before the erasure.
    expected = await every_report(copy.deepcopy(uow), weeks)
    async with uow:
        await programme_report(uow, weeks, first, NOW)  # one group read: the weeks are released
    async with uow:
        gone = SubjectsErased(
            id="er:s", erasure_id="er", subject_ids=[f"s{erased}"], occurred_at=NOW
        )
        await erase_subjects([gone], uow, ErasureTopics("receipts"), ERASED_IDS, NOW)
    assert await every_report(uow, weeks) == expected


@settings(max_examples=150, deadline=None)
@given(contributors, st.integers(0, 29), st.sampled_from(GROUPS), st.integers(1, 4))
def test_erasing_any_contributor_after_a_first_reading_changes_no_released_figure(
    found: list[Contributor], erased: int, first: str | None, weeks: int
) -> None:
    # Whichever group was read first (the organisation, a team, or a team no one was in), and
    # however long the window: every group's every figure, the window's too, stays.
    if found:
        asyncio.run(_erasure_changes_nothing(found, erased % len(found), first, weeks))
