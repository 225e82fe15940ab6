"""Team trends with k-anonymity and complementary suppression (domain/trends.py)."""

import random
from collections.abc import Iterable
from datetime import date, timedelta

import pytest

from kinship_checkin.domain.trends import TeamTrend, TrendCell, team_trend
from kinship_checkin.handlers.trends import NotYourTeamError, team_trend_for
from kinship_contracts.directory import Role
from kinship_runtime.access import Actor, Person
from tests.unit.fakes.checkin import FakeCheckinUnitOfWork

K = 5
MONDAY = date(2026, 11, 2)


def week(n: int) -> date:
    return MONDAY + timedelta(weeks=n)


def cell(n: int, people: Iterable[int], checkins: int | None = None, mood: int = 3) -> TrendCell:
    """Week ``n`` with the given people, each checking in once (unless ``checkins``)."""
    names = frozenset(f"s{p}" for p in people)
    count = len(names) if checkins is None else checkins
    return TrendCell(
        week_start=week(n),
        people=names,
        checkins=count,
        mood_sum=mood * count,
        mood_count=count,
        stress_sum=2 * count,
        stress_count=count,
    )


def hidden_weeks(trend: TeamTrend) -> list[date]:
    return [w.week_start for w in trend.weeks if w.figures is None]


def test_four_distinct_people_over_the_whole_period_make_the_team_unavailable() -> None:
    trend = team_trend("t", [cell(0, range(4)), cell(1, range(4)), cell(2, range(4))], K)
    assert (trend.available, trend.weeks, trend.overall) == (False, [], None)


def test_five_distinct_people_over_the_whole_period_make_the_team_available() -> None:
    trend = team_trend("t", [cell(0, range(3)), cell(1, range(2, 5))], K)
    assert trend.available
    # Both weeks are small, so both are hidden and no whole-period total is published.
    assert hidden_weeks(trend) == [week(0), week(1)] and trend.overall is None


def test_people_are_counted_not_checkins() -> None:
    # Four people who check in 40 times are still four people: hidden.
    trend = team_trend("t", [cell(0, range(4), checkins=40), cell(1, range(10, 16))], K)
    assert trend.weeks[0].figures is None


def test_a_week_of_exactly_k_people_is_shown() -> None:
    trend = team_trend("t", [cell(0, range(5), mood=4)], K)
    figures = trend.weeks[0].figures
    assert figures is not None
    assert (figures.people, figures.checkins, figures.mood_mean, figures.stress_mean) == (
        5,
        5,
        4.0,
        2.0,
    )


def test_answers_nobody_gave_have_no_mean() -> None:
    trend = team_trend("t", [cell(0, range(5))], K)
    figures = trend.weeks[0].figures
    assert figures is not None and figures.energy_mean is None and figures.who5_percent_mean is None


def test_means_are_rounded_to_two_decimals() -> None:
    odd = TrendCell(
        week_start=week(0), people=frozenset("abcde"), checkins=3, mood_sum=10, mood_count=3
    )
    figures = team_trend("t", [odd], K).weeks[0].figures
    assert figures is not None and figures.mood_mean == 3.33


def test_weeks_are_reported_oldest_first_whatever_the_input_order() -> None:
    trend = team_trend("t", [cell(2, range(5)), cell(0, range(5)), cell(1, range(5))], K)
    assert [w.week_start for w in trend.weeks] == [week(0), week(1), week(2)]


def test_without_small_weeks_everything_is_shown() -> None:
    trend = team_trend("t", [cell(0, range(5)), cell(1, range(6))], K)
    assert hidden_weeks(trend) == [] and trend.overall is not None


def test_one_small_week_is_hidden_together_with_the_smallest_large_week() -> None:
    cells = [cell(0, range(9)), cell(1, range(100, 102)), cell(2, range(6)), cell(3, range(7))]
    trend = team_trend("t", cells, K)
    assert hidden_weeks(trend) == [week(1), week(2)]  # 2 people + the 6-person week
    assert trend.overall is None  # a total would let the hidden weeks be derived


def test_complementary_suppression_breaks_ties_by_the_earliest_week() -> None:
    cells = [cell(0, range(6)), cell(1, range(100, 101)), cell(2, range(6))]
    assert hidden_weeks(team_trend("t", cells, K)) == [week(0), week(1)]


def test_several_small_weeks_covering_k_people_together_hide_nothing_else() -> None:
    cells = [cell(0, range(3)), cell(1, range(10, 13)), cell(2, range(20, 30))]
    trend = team_trend("t", cells, K)
    assert hidden_weeks(trend) == [week(0), week(1)]


def test_small_weeks_of_the_same_few_people_do_not_count_as_k() -> None:
    # Weeks 0 and 1 hold the same three people: together still only 3, so week 2 is hidden too.
    cells = [cell(0, range(3)), cell(1, range(3)), cell(2, range(10, 16)), cell(3, range(20, 30))]
    assert hidden_weeks(team_trend("t", cells, K)) == [week(0), week(1), week(2)]


def _random_cells(rng: random.Random) -> list[TrendCell]:
    population = list(range(rng.randint(3, 14)))
    weeks = rng.sample(range(8), rng.randint(1, 6))
    return [cell(n, rng.sample(population, rng.randint(1, len(population)))) for n in weeks]


def test_contract_holds_for_many_random_teams() -> None:
    """Shown weeks have >= k people; hidden weeks together cover >= k people when the
    whole-period figures are shown, so subtracting shown weeks never isolates a small group."""
    rng = random.Random(20261124)
    for _ in range(300):
        cells = _random_cells(rng)
        trend = team_trend("t", cells, K)
        everyone = frozenset().union(*(c.people for c in cells))
        if len(everyone) < K:
            assert not trend.available and trend.weeks == []
            continue
        by_week = {c.week_start: c for c in cells}
        shown = [w for w in trend.weeks if w.figures is not None]
        hidden = [by_week[w.week_start] for w in trend.weeks if w.figures is None]
        assert all(w.figures is not None and (w.figures.people or 0) >= K for w in shown)
        assert all(len(by_week[w.week_start].people) >= K for w in shown)
        if hidden and trend.overall is not None:
            assert len(frozenset().union(*(c.people for c in hidden))) >= K


COORDINATOR = Actor(person=Person("coord-1", frozenset({Role.COORDINATOR})))


async def trend_of(
    uow: FakeCheckinUnitOfWork, team_id: str, weeks: int = 12, actor: Actor = COORDINATOR
) -> TeamTrend:
    async with uow:
        return await team_trend_for(actor, team_id, uow, K, weeks)


async def test_a_teams_trend_is_for_its_manager_and_coordinators_only() -> None:
    uow = FakeCheckinUnitOfWork(cells={"t-1": [cell(0, range(5))]})
    manager = Actor(person=Person("m-1", frozenset({Role.TEAM_MANAGER}), "t-1"))
    other_manager = Actor(person=Person("m-2", frozenset({Role.TEAM_MANAGER}), "t-2"))
    employee = Actor(person=Person("e-1", frozenset(), "t-1"))
    assert (await trend_of(uow, "t-1", actor=manager)).available
    for refused in (other_manager, employee):
        with pytest.raises(NotYourTeamError):
            await trend_of(uow, "t-1", actor=refused)


async def test_team_trend_for_reads_the_team_cells_from_the_store() -> None:
    uow = FakeCheckinUnitOfWork(cells={"t-1": [cell(0, range(5))], "t-2": [cell(0, range(4))]})
    assert (await trend_of(uow, "t-1")).available
    assert not (await trend_of(uow, "t-2")).available
    assert not (await trend_of(uow, "unknown")).available


def _window_store() -> FakeCheckinUnitOfWork:
    # today is in the week after week 3; week 0 has 2 people, the others 6, 7 and 8.
    cells = [
        cell(0, range(100, 102), mood=1),
        cell(1, range(6), mood=4),
        cell(2, range(7), mood=4),
        cell(3, range(8), mood=4),
    ]
    return FakeCheckinUnitOfWork(cells={"t": cells}, today=week(4) + timedelta(days=2))


async def test_a_two_person_week_is_hidden_in_a_four_week_window() -> None:
    trend = await trend_of(_window_store(), "t", weeks=4)
    assert week(0) in hidden_weeks(trend)


async def test_a_hidden_week_cannot_be_derived_by_subtracting_two_windows() -> None:
    uow = _window_store()
    wide = await trend_of(uow, "t", weeks=4)
    narrow = await trend_of(uow, "t", weeks=3)
    # The window holding the hidden week publishes no whole-period figures to subtract, and
    # its complement (week 1, the nearest) stays withheld in the narrower window read later.
    assert hidden_weeks(wide) == [week(0), week(1)] and wide.overall is None
    assert hidden_weeks(narrow) == [week(1)] and narrow.overall is None
    assert narrow.weeks == wide.weeks[1:]


async def test_read_narrow_first_the_wider_window_adds_no_total_to_subtract_from() -> None:
    uow = _window_store()
    narrow = await trend_of(uow, "t", weeks=3)
    wide = await trend_of(uow, "t", weeks=4)
    assert not hidden_weeks(narrow) and narrow.overall is not None
    # Distinct people over several weeks are not published (decision 71); the totals are.
    assert narrow.overall.people is None and narrow.overall.checkins == 21
    # Weeks 1-3 as first served; week 0 (two people) is withheld and no total covers it.
    assert wide.weeks[1:] == narrow.weeks and hidden_weeks(wide) == [week(0)]
    assert wide.overall is None


def test_whole_period_figures_are_withheld_when_any_week_is_hidden() -> None:
    trend = team_trend("t", [cell(0, range(3)), cell(1, range(50, 53))], min_people=K)
    assert trend.available
    assert all(week.figures is None for week in trend.weeks)
    assert trend.overall is None
    shown = team_trend("t", [cell(0, range(5)), cell(1, range(50, 56))], min_people=K)
    assert shown.overall is not None and shown.overall.checkins == 11
    assert shown.overall.people is None  # two weeks: distinct people across them withheld
    one = team_trend("t", [cell(0, range(6))], min_people=K)
    assert one.overall is not None and one.overall.people == 6  # one week: that week's
