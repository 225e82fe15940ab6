"""Team celebrations (k ≥ 5), programme reports (k ≥ 5, no differencing) and their chart."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from kinship_contracts.pulse import PulseSubmitted
from kinship_recognition.adapters.chart import render
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    PulseWeek,
    Sources,
    Timing,
    Window,
    build_report,
    shown,
)
from kinship_recognition.domain.teams import participation_milestone, team_kudos_milestone

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
WINDOW = Window.ending_with(NOW.date(), 3)
W1, W2, W3 = WINDOW.weeks()


def test_team_kudos_are_celebrated_only_with_five_senders_and_only_the_highest_milestone() -> None:
    assert team_kudos_milestone(given=30, senders=4) is None
    assert team_kudos_milestone(given=9, senders=5) is None
    assert team_kudos_milestone(given=10, senders=5) == 10
    assert team_kudos_milestone(given=30, senders=5) == 25


@pytest.mark.parametrize(
    ("participants", "members", "expected"),
    [(4, 4, None), (5, 11, None), (5, 10, 50), (6, 8, 75), (9, 10, 90), (5, 0, None)],
)
def test_team_participation_milestones_need_five_people(
    participants: int, members: int, expected: int | None
) -> None:
    assert participation_milestone(participants, members) == expected


def test_a_window_is_whole_utc_weeks_ending_with_this_one() -> None:
    assert WINDOW.weeks() == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert WINDOW.end == date(2026, 11, 30)
    assert WINDOW.start_time == datetime(2026, 11, 9, tzinfo=UTC)


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
            ParticipationWeek(None, 16),
        ],
        "cases": [
            CaseWeek(W1, 6, 5, 5, Timing(60.0, 300.0), Timing(600.0, 900.0), {"supported": 5}),
            CaseWeek(W2, 4, 4, 4, Timing(30.0, 40.0), Timing(), {"supported": 4}),
            CaseWeek(None, 10, 9, 9, Timing(45.0, 280.0), Timing(600.0, 900.0), {}),
        ],
        "feedback": [
            FeedbackWeek(W1, "person", 5, 5, 4.4),
            FeedbackWeek(W3, "responder", 4, 4, 3.0),
            FeedbackWeek(None, "person", 5, 5, 4.4),
        ],
        "pulse": [PulseWeek(W3, 7, {"programme_helps": 4.285}), PulseWeek(None, 7, {})],
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
    assert "satisfaction.responder: a week of the window is withheld" in period.withheld
    assert period.satisfaction["person"].responses == 5  # every week of it was shown
    clean = sources(
        participation=[ParticipationWeek(W1, 12), ParticipationWeek(None, 12)],
        cases=[],
        feedback=[],
        pulse=[],
    )
    whole = build_report(clean, team_id=None, generated_at=NOW).period
    assert whole.participation is not None and whole.participation.people == 12
    assert whole.withheld == []


def test_team_reports_never_show_case_figures() -> None:
    report = build_report(sources(), team_id="team-a", generated_at=NOW)
    assert all(week.cases is None and week.satisfaction == {} for week in report.weeks)
    assert "cases: reported for the whole organisation only" in report.weeks[0].withheld
    assert report.team_id == "team-a"


def test_the_chart_is_an_svg_with_gaps_for_withheld_weeks() -> None:
    report = build_report(sources(), team_id=None, generated_at=NOW)
    svg = render(report, "svg")
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.tag.endswith("svg")
    text = svg.decode()
    assert "participation (%)" in text and "time to acknowledge (min)" in text
    assert "fewer than 5 people contributed are not shown" in text
    assert "2026-11-09 to 2026-11-29" in text
    assert render(report, "png").startswith(b"\x89PNG\r\n\x1a\n")


def pulse(**answers: int) -> PulseSubmitted:
    body = {
        "id": "p-1",
        "person_id": "ann",
        "survey_id": "2026-11",
        "occurred_at": "2026-11-24T09:00:00+00:00",
        "source": "tests",
        "answers": answers,
    }
    return PulseSubmitted.model_validate_json(json.dumps(body))


def test_pulse_answers_are_one_to_five_and_at_least_one() -> None:
    assert pulse(programme_helps=5).answers.programme_helps == 5
    with pytest.raises(ValidationError, match="at least one"):
        pulse()
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        pulse(programme_helps=6)
    with pytest.raises(ValidationError, match="Extra inputs"):
        pulse(programme_help=4)
