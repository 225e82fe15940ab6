"""Programme reports: k ≥ 5 for every group, closed weeks only, no differencing between
windows (domain), and the report and chart use cases over the in-memory ports. The
differencing attacks themselves are in test_differencing.py."""

from datetime import UTC, date, datetime, timedelta

import pytest

from kinship_contracts.cases import CaseEventKind
from kinship_recognition.domain.reports import (
    NOT_ADDED_UP,
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    Sources,
    Timing,
    Window,
    build_report,
    monday_of,
    shown,
)
from kinship_recognition.handlers.ports import ChartFormat
from kinship_recognition.handlers.reports import programme_chart, programme_report
from tests.unit.fakes.recognition import (
    FakeChartRenderer,
    FakeRecognitionUnitOfWork,
    Person,
    case_event,
    pulse,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
WINDOW = Window.closed(NOW, 3)
W1, W2, W3 = WINDOW.weeks()


def test_a_window_is_the_whole_utc_weeks_that_have_closed() -> None:
    assert WINDOW.weeks() == [date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)]
    assert WINDOW.end == date(2026, 11, 23)  # this week is never reported
    assert WINDOW.start_time == datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(("people", "visible"), [(0, True), (1, False), (4, False), (5, True)])
def test_a_group_is_shown_when_empty_or_at_least_five(people: int, visible: bool) -> None:
    assert shown(people) is visible


def sources(**overrides: object) -> Sources:
    base: dict[str, object] = {
        "window": WINDOW,
        "members": 20,
        "participation": [
            ParticipationWeek(W1, 12),
            ParticipationWeek(W2, 4),  # four people: must not be shown
            ParticipationWeek(W3, 15),
        ],
        "cases": [
            CaseWeek(W1, 6, 5, 5, Timing(60.0, 300.0), Timing(600.0, 900.0), {"supported": 5}),
            CaseWeek(W2, 4, 4, 4, Timing(30.0, 40.0), Timing(), {"supported": 4}),
        ],
        "feedback": [
            FeedbackWeek(W1, "person", 5, 5, 4.4),
            FeedbackWeek(W3, "responder", 4, 4, 3.0),
        ],
        "pulse": [PulseWeek(W3, 7, {"programme_helps": 4.285})],
    }
    base.update(overrides)
    return Sources(**base)  # type: ignore[arg-type]


def test_a_week_with_four_people_is_withheld_and_five_are_shown() -> None:
    report = build_report(sources(), team_id=None, generated_at=NOW)
    first, second, third = report.weeks
    assert first.participation is not None and first.participation.rate == pytest.approx(0.6)
    assert second.participation is None
    assert "participation: fewer than 5 people" in second.withheld
    assert first.cases is not None and first.cases.time_to_acknowledge_seconds.median == 60.0
    assert second.cases is None and "cases: fewer than 5 people" in second.withheld
    assert third.cases is not None and third.cases.opened == 0  # no one: nothing to hide
    assert first.satisfaction["person"].mean_score == 4.4
    assert "responder" not in third.satisfaction
    assert "satisfaction.responder: fewer than 5 people" in third.withheld
    assert third.pulse is not None and third.pulse.mean_agreement == {"programme_helps": 4.29}
    dumped = report.model_dump_json()
    assert '"people":4' not in dumped and '"opened":4' not in dumped


def test_whole_window_figures_are_withheld_when_any_week_is() -> None:
    period = build_report(sources(), team_id=None, generated_at=NOW).period
    assert period.participation is None and period.cases is None
    assert "participation: a week of the window is withheld" in period.withheld
    assert "cases: a week of the window is withheld" in period.withheld
    assert "satisfaction.responder: a week of the window is withheld" in period.withheld
    assert period.satisfaction["person"].responses == 5  # every week of it was shown


def test_whole_window_figures_add_up_the_weeks_as_released_and_nothing_else() -> None:
    clean = sources(
        participation=[ParticipationWeek(W1, 12), ParticipationWeek(W3, 6)],
        cases=[
            CaseWeek(W1, 6, 5, 5, Timing(60.0, 300.0), Timing(), {"supported": 5}),
            CaseWeek(W3, 7, 6, 7, Timing(30.0, 40.0), Timing(), {"supported": 4, "declined": 1}),
        ],
        feedback=[FeedbackWeek(W1, "person", 5, 5, 4.4), FeedbackWeek(W3, "person", 6, 6, 3.0)],
        pulse=[PulseWeek(W3, 7, {"programme_helps": 4.0})],
    )
    report = build_report(clean, team_id=None, generated_at=NOW)
    period = report.period
    assert period.cases is not None
    assert (period.cases.opened, period.cases.acknowledged) == (13, 12)
    assert period.cases.outcomes == {"declined": 1, "supported": 9}
    assert period.cases.time_to_acknowledge_seconds.median is None  # no median of medians
    assert period.satisfaction["person"].responses == 11
    assert period.satisfaction["person"].mean_score == round((5 * 4.4 + 6 * 3.0) / 11, 2)
    # People (or respondents) over several weeks are not the weeks' people added up.
    assert period.participation is None and period.pulse is None
    assert period.withheld == [
        f"participation: {NOT_ADDED_UP}",
        f"cases.time_to_acknowledge_seconds: {NOT_ADDED_UP}",
        f"cases.time_to_first_contact_seconds: {NOT_ADDED_UP}",
        f"pulse: {NOT_ADDED_UP}",
    ]
    assert all(week.withheld == [] for week in report.weeks)


def test_team_reports_never_show_case_figures() -> None:
    report = build_report(sources(), team_id="team-a", generated_at=NOW)
    assert all(week.cases is None and week.satisfaction == {} for week in report.weeks)
    assert "cases: reported for the whole organisation only" in report.weeks[0].withheld
    assert report.team_id == "team-a"


# The use cases -----------------------------------------------------------------


def organisation(people: int) -> FakeRecognitionUnitOfWork:
    """``people`` active members of team-c who each checked in last week (W3)."""
    uow = FakeRecognitionUnitOfWork({f"p{n}": Person("team-c") for n in range(people)})
    for n in range(people):
        uow.check_in(f"s{n}", W3, "team-c")
    return uow


LAST_WEEK = datetime.combine(W3, datetime.min.time(), UTC) + timedelta(days=2)


async def fill(uow: FakeRecognitionUnitOfWork, people: int, at: datetime = LAST_WEEK) -> None:
    """A case for each of ``people`` (acknowledged after n + 1 minutes) and pulse answers,
    each recorded as it happened."""
    opened = at - timedelta(hours=1)
    async with uow:
        for n in range(people):
            opening = case_event(f"case-{n}", 1, CaseEventKind.OPENED, opened, f"s{n}")
            await uow.record_case_fact(opening, opened)
            acknowledged = opened + timedelta(minutes=n + 1)
            ack = case_event(f"case-{n}", 2, CaseEventKind.ACKNOWLEDGED, acknowledged, f"s{n}")
            await uow.record_case_fact(ack, acknowledged)
            answer = pulse(f"pulse-{n}", f"p{n}", at, programme_helps=4)
            await uow.add_pulse(answer, f"s{n}", at)


async def report_for(uow: FakeRecognitionUnitOfWork, team_id: str | None = None) -> ProgrammeReport:
    async with uow:
        return await programme_report(uow, 3, team_id, NOW)


async def test_the_report_withholds_a_week_of_four_people() -> None:
    uow = organisation(4)
    await fill(uow, 4)
    week = (await report_for(uow)).weeks[-1]
    assert week.participation is None and week.cases is None and week.pulse is None
    assert "participation: fewer than 5 people" in week.withheld
    assert "cases: fewer than 5 people" in week.withheld
    assert "pulse: fewer than 5 people" in week.withheld


async def test_the_report_shows_a_week_of_five_people() -> None:
    uow = organisation(5)
    await fill(uow, 5)
    report = await report_for(uow)
    assert (report.start, report.end, report.generated_at) == (W1, WINDOW.end, NOW)
    week = report.weeks[-1]
    assert week.participation is not None and week.participation.rate == 1.0
    assert week.cases is not None and week.cases.opened == 5
    assert week.cases.time_to_acknowledge_seconds.median == pytest.approx(180.0)
    assert week.pulse is not None and week.pulse.mean_agreement == {"programme_helps": 4.0}
    assert report.period.cases is not None  # the earlier weeks had no one
    assert report.period.cases.opened == 5


async def test_a_team_report_counts_the_team_only_and_never_its_cases() -> None:
    uow = organisation(5)
    uow.people |= {f"o{n}": Person("team-o") for n in range(3)}
    await fill(uow, 5)
    report = await report_for(uow, "team-c")
    week = report.weeks[-1]
    assert week.participation is not None and week.participation.members == 5
    assert week.participation.people == 5
    assert week.cases is None and "cases: reported for the whole organisation only" in week.withheld
    assert report.period.participation is None and report.period.pulse is None
    assert "pulse: a team's figures are reported week by week only" in report.period.withheld


async def test_the_week_in_progress_is_never_reported_however_many_took_part() -> None:
    uow = organisation(0)
    for n in range(8):
        uow.check_in(f"now-{n}", monday_of(NOW.date()), "team-c", recorded=NOW)
    await fill(uow, 8, at=NOW - timedelta(hours=2))
    report = await report_for(uow)
    assert report.end == monday_of(NOW.date())
    assert all(w.participation is not None and w.participation.people == 0 for w in report.weeks)
    assert all(w.cases is not None and w.cases.opened == 0 for w in report.weeks)


async def test_a_case_counts_as_it_stood_when_its_week_closed() -> None:
    uow = organisation(5)
    await fill(uow, 5)
    resolved = case_event(
        "case-0", 3, CaseEventKind.RESOLVED, NOW - timedelta(hours=1), "s0", outcome="supported"
    )
    async with uow:
        await uow.record_case_fact(resolved, NOW)  # resolved this week
    week = (await report_for(uow)).weeks[-1]
    assert week.cases is not None and week.cases.outcomes == {}  # not as the week closed


@pytest.mark.parametrize("fmt", ["svg", "png"])
async def test_the_chart_draws_the_report_in_the_format_asked(fmt: ChartFormat) -> None:
    uow = organisation(5)
    report = await report_for(uow)
    chart = FakeChartRenderer()
    drawn = await programme_chart(report, chart, fmt)
    assert drawn == f"{fmt} chart of 3 weeks".encode()
    assert chart.drawn == [(report, fmt)]
