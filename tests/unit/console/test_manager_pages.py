"""The team manager's pages over fakes, and the pure parts behind the people pages: the trend
chart's geometry, the kudos form and the outreach choices."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from kinship_console.adapters.api import Me, TeamTrend, TrendFigures, TrendWeek
from kinship_console.domain.checkin_form import new_submission_id
from kinship_console.domain.kudos_form import parse_kudos_form
from kinship_console.domain.outreach import chosen_outreach
from kinship_console.domain.trend_chart import HEIGHT, ChartWeek, trend_chart
from tests.unit.console.conftest import Console

MONDAY = date(2026, 9, 7)


def figures(people: int, mood: float, stress: float, energy: float) -> TrendFigures:
    return TrendFigures(
        people=people,
        checkins=people + 2,
        mood_mean=mood,
        stress_mean=stress,
        energy_mean=energy,
        who5_percent_mean=61.5,
    )


def week(offset: int, data: TrendFigures | None) -> TrendWeek:
    return TrendWeek(
        week_start=MONDAY + timedelta(weeks=offset), suppressed=data is None, figures=data
    )


def manager(console: Console, *teams: str) -> None:
    console.api.person = Me(person_id="mia", roles=["team_manager"], managed_teams=list(teams))
    console.sign_in()


def test_a_manager_of_one_team_goes_straight_to_its_trend(console: Console) -> None:
    manager(console, "platform")
    answer = console.client.get("/teams", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/teams/platform"


def test_a_manager_of_several_teams_chooses_one(console: Console) -> None:
    manager(console, "platform", "care")
    page = console.client.get("/teams")
    assert 'href="/teams/platform"' in page.text and 'href="/teams/care"' in page.text


def test_someone_managing_no_team_is_told_so(console: Console) -> None:
    console.sign_in()
    answer = console.client.get("/teams")
    assert answer.status_code == 403
    assert "Not available to you" in answer.text


def test_a_team_of_fewer_than_k_people_has_its_trend_withheld(console: Console) -> None:
    manager(console, "kiosk")
    console.api.trends["kiosk"] = TeamTrend(team_id="kiosk", available=False, min_people=5)
    page = console.client.get("/teams/kiosk")
    assert page.status_code == 200
    assert "Trend withheld" in page.text
    assert "Fewer than 5 people from this team checked in" in page.text
    assert "<svg" not in page.text and "<table" not in page.text
    assert ("team_trend", "kiosk:12") in console.api.calls


def test_a_team_trend_is_a_chart_with_its_table(console: Console) -> None:
    manager(console, "platform")
    console.api.trends["platform"] = TeamTrend(
        team_id="platform",
        available=True,
        min_people=5,
        weeks=[
            week(0, figures(6, 3.5, 2.25, 3.0)),
            week(1, None),
            week(3, figures(7, 4.0, 2.0, 3.5)),
            week(4, figures(5, 3.75, 3.0, 2.5)),
        ],
    )
    page = console.client.get("/teams/platform")
    assert page.status_code == 200
    svg = re.search(r"<svg viewBox=.*?</svg>", page.text, re.S)
    assert svg is not None
    assert 'role="img"' in svg.group(0) and 'aria-labelledby="chart-title chart-desc"' in svg.group(
        0
    )
    assert svg.group(0).count('class="marker series-mood"') == 3
    assert svg.group(0).count('class="withheld"') == 1
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", page.text, re.S)
    assert len(rows) == 5, "four weeks sent and the quiet week between them"
    assert "Withheld: fewer than 5 people" in rows[1][1]
    assert "No check-ins" in rows[2][1]
    assert (
        "<td>6</td>" in rows[0][1]
        and "<td>3.5</td>" in rows[0][1]
        and "<td>2.25</td>" in rows[0][1]
    )
    assert "Whole period" not in page.text, "no totals when a week is hidden"
    german = console.client.get("/teams/platform", headers={"Accept-Language": "de"})
    assert "<td>2,25</td>" in german.text and "Zurückgehalten" in german.text


def test_whole_period_people_over_several_weeks_read_weekly_only(console: Console) -> None:
    """The check-in service publishes no distinct count over several weeks (decision 71)."""
    manager(console, "platform")
    overall = figures(6, 3.0, 2.0, 3.0).model_copy(update={"people": None})
    console.api.trends["platform"] = TeamTrend(
        team_id="platform",
        available=True,
        min_people=5,
        weeks=[week(0, figures(6, 3.0, 2.0, 3.0)), week(1, figures(5, 3.0, 2.0, 3.0))],
        overall=overall,
    )
    page = console.client.get("/teams/platform")
    assert "Whole period" in page.text and "weekly only" in page.text and "None" not in page.text
    german = console.client.get("/teams/platform", headers={"Accept-Language": "de"})
    assert "nur je Woche" in german.text


def test_a_trend_whose_weeks_are_all_withheld_draws_no_chart(console: Console) -> None:
    manager(console, "platform")
    console.api.trends["platform"] = TeamTrend(
        team_id="platform", available=True, min_people=5, weeks=[week(0, None), week(1, None)]
    )
    page = console.client.get("/teams/platform")
    assert "<svg viewBox" not in page.text
    assert "Every week in this period is withheld" in page.text


def test_another_teams_trend_is_refused_by_the_service_and_said_plainly(console: Console) -> None:
    manager(console, "platform")
    page = console.client.get("/teams/care")
    assert page.status_code == 403
    assert "Only the team" in page.text


# The chart's geometry ---------------------------------------------------------------


def test_the_chart_places_means_on_one_scale_and_breaks_lines_at_withheld_weeks() -> None:
    weeks = [
        ChartWeek(MONDAY, False, mood=5.0, stress=1.0, energy=3.0),
        ChartWeek(MONDAY + timedelta(weeks=1), False, mood=3.0, stress=2.0, energy=None),
        ChartWeek(MONDAY + timedelta(weeks=2), True),
        ChartWeek(MONDAY + timedelta(weeks=3), False, mood=1.0, stress=3.0, energy=4.0),
    ]
    chart = trend_chart(weeks)
    mood = next(line for line in chart.lines if line.key == "mood")
    assert [point.value for point in mood.points] == [5.0, 3.0, 1.0]
    top, bottom = chart.top, chart.bottom
    assert mood.points[0].y == top and mood.points[2].y == bottom
    assert mood.points[1].y == pytest.approx((top + bottom) / 2, abs=0.1)
    assert len(mood.paths) == 1, "the run before the withheld week; the last point stands alone"
    energy = next(line for line in chart.lines if line.key == "energy")
    assert energy.paths == [], "no two consecutive weeks with energy"
    assert [band.week_start for band in chart.withheld] == [MONDAY + timedelta(weeks=2)]
    xs = [x for x, _ in chart.weeks]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert [level for _, level in chart.levels] == [1, 2, 3, 4, 5]
    assert all(0 <= y <= HEIGHT for y, _ in chart.levels)


def test_an_empty_chart_has_no_lines() -> None:
    chart = trend_chart([])
    assert all(line.points == [] and line.paths == [] for line in chart.lines)


# Forms ------------------------------------------------------------------------------


def test_kudos_form_becomes_kudos_from_the_sender() -> None:
    form = {
        "to_person_id": "ben",
        "message": " Thanks\r\nfor the help ",
        "submission_id": new_submission_id("a" * 32),
    }
    parsed = parse_kudos_form(form, "ada")
    assert parsed.valid
    kudos = parsed.kudos("ada", datetime(2026, 11, 29, tzinfo=UTC))
    assert (kudos.from_person_id, kudos.to_person_id) == ("ada", "ben")
    assert kudos.message == "Thanks\nfor the help"
    assert kudos.source == "kinship-console"


@pytest.mark.parametrize(
    ("form", "field", "code"),
    [
        ({"to_person_id": "ben", "message": "hi"}, "submission_id", "form_expired"),
        ({"to_person_id": "a b", "message": "hi"}, "to_person_id", "choose_colleague"),
        ({"to_person_id": "ben", "message": "a\x00b"}, "message", "message_invalid"),
    ],
)
def test_kudos_form_names_what_cannot_be_sent(form: dict[str, str], field: str, code: str) -> None:
    parsed = parse_kudos_form(form, "ada")
    assert not parsed.valid
    assert parsed.errors[field] == code


def test_only_the_three_outreach_choices_are_accepted() -> None:
    assert [chosen_outreach(v) for v in ("welcome", "ask_first", "resources_only")] == [
        "welcome",
        "ask_first",
        "resources_only",
    ]
    assert chosen_outreach("always") is None and chosen_outreach(None) is None
