"""Team trends released at first read (``domain.trends.release``, ``handlers.trends``): a
closed week is served as first decided, so a reading before and after a member's erasure
(which deletes their check-ins) cannot be subtracted to give that member's figures."""

import random
from datetime import UTC, date, datetime, time, timedelta

from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.domain.trends import (
    ReleasedWeek,
    ReleasedWindow,
    TeamTrend,
    TrendCell,
    WeekState,
    release,
    served,
    team_trend,
)
from kinship_checkin.handlers.erasure import ErasureTopics, erase_people
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_checkin.handlers.trends import team_trend_for
from kinship_contracts.directory import Role
from kinship_contracts.privacy import ErasureRequested
from kinship_runtime.access import Actor, Person
from tests.unit.fakes.checkin import ERASED_PEOPLE, FakeCheckinUnitOfWork, submitted

K = 5
NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
TODAY = date(2026, 11, 30)  # a Monday: the week of 23 November has just closed
LAST_WEEK = date(2026, 11, 23)
COORDINATOR = Actor(person=Person("coord-1", frozenset({Role.COORDINATOR})))
TOPICS = ErasureTopics("requested", "subjects", "receipts", "directory", "outreach")


async def read(uow: FakeCheckinUnitOfWork, weeks: int = 4, team: str = "t-1") -> TeamTrend:
    async with uow:
        return await team_trend_for(COORDINATOR, team, uow, K, weeks)


async def checked_in(uow: FakeCheckinUnitOfWork, answers: dict[str, list[int]]) -> None:
    """Each person's moods, one check-in a week ending last week (the last answer)."""
    async with uow:
        for person, moods in answers.items():
            for n, mood in enumerate(reversed(moods)):
                day = LAST_WEEK - timedelta(weeks=n) + timedelta(days=1)
                at = datetime.combine(day, time(12), UTC)
                await record_checkins(
                    [submitted(f"c-{person}-{n}", person, occurred_at=at.isoformat(), mood=mood)],
                    uow,
                    NOTES,
                    RecordingTopics("recorded"),
                    at,
                )


async def erase(uow: FakeCheckinUnitOfWork, person: str) -> None:
    request = ErasureRequested(
        id=f"er-{person}", person_id=person, requested_at=datetime.now(UTC), source="hr"
    )
    async with uow:
        await erase_people([request], uow, TOPICS, datetime.now(UTC), erased=ERASED_PEOPLE)


def team(size: int) -> FakeCheckinUnitOfWork:
    return FakeCheckinUnitOfWork(teams={f"p{n}": "t-1" for n in range(size)}, today=TODAY)


async def test_a_week_read_before_and_after_an_erasure_is_the_same() -> None:
    uow = team(6)
    await checked_in(uow, {f"p{n}": [4, 4] for n in range(5)} | {"p5": [1, 1]})
    before = await read(uow)
    assert before.overall is not None and before.overall.mood_mean == 3.5
    assert [w.figures.people for w in before.weeks if w.figures] == [6, 6]

    await erase(uow, "p5")
    assert not [c for c in uow.checkins if c.startswith("c-p5")]  # p5's check-ins are gone
    # Recomputed, the weeks would now give p5's moods away (6 * 3.5 - 5 * 4 = 1).
    async with uow:
        recomputed = team_trend("t-1", await uow.trend_cells("t-1", 4), K)
    assert recomputed.weeks != before.weeks and recomputed.overall != before.overall
    assert await read(uow) == before


async def test_a_withheld_week_stays_withheld_after_an_erasure_and_nothing_is_stored_of_it() -> (
    None
):
    uow = team(7)
    # Two weeks ago three people: withheld, with last week (six people) as its complement.
    await checked_in(uow, {f"p{n}": [3, 4] for n in range(3)} | {f"p{n}": [3] for n in range(3, 6)})
    before = await read(uow, weeks=2)
    assert before.available and [w.figures for w in before.weeks] == [None, None]
    stored = [w for (t, _), w in uow.trend_weeks.items() if t == "t-1"]
    assert {w.state for w in stored} == {WeekState.WITHHELD}
    assert all(w.totals is None for w in stored)  # withheld: nothing of it kept
    await erase(uow, "p0")
    assert await read(uow, weeks=2) == before
    # The narrower window read later serves the week as first served: still withheld.
    assert [w.figures for w in (await read(uow, weeks=1)).weeks] == [None]


async def test_a_later_window_serves_older_weeks_as_stored_and_decides_only_new_ones() -> None:
    uow = team(6)
    await checked_in(uow, {f"p{n}": [4, 4] for n in range(6)})
    first = await read(uow, weeks=1)
    await erase(uow, "p0")
    await erase(uow, "p1")
    wider = await read(uow, weeks=2)
    # Last week as first served (6 people); the week before first read now, after the
    # erasures: four people, withheld, and no total over the pair.
    assert wider.weeks[1] == first.weeks[0]
    assert wider.weeks[0].figures is None and wider.overall is None


async def test_a_quiet_week_stays_quiet_when_a_check_in_is_dated_back_into_it() -> None:
    uow = team(6)
    await checked_in(uow, {f"p{n}": [4] for n in range(6)})
    first = await read(uow, weeks=2)
    assert [w.week_start for w in first.weeks] == [LAST_WEEK]
    await checked_in(uow, {f"p{n}": [2, 4] for n in range(6)})  # into the week before, late
    assert await read(uow, weeks=2) == first


def _cells(answers: dict[str, dict[int, int]], monday: date) -> list[TrendCell]:
    """Weekly cells of ``answers`` (person -> week offset -> mood)."""
    weeks = sorted({n for moods in answers.values() for n in moods})
    cells = []
    for n in weeks:
        moods = {p: m[n] for p, m in answers.items() if n in m}
        cells.append(
            TrendCell(
                week_start=monday + timedelta(weeks=n),
                people=frozenset(moods),
                checkins=len(moods),
                mood_sum=sum(moods.values()),
                mood_count=len(moods),
            )
        )
    return cells


async def test_reads_of_random_windows_around_erasures_never_change_a_served_week() -> None:
    """Random teams, windows read on random days, members erased between reads: a week once
    served is served the same in every later window; shown weeks cover >= k people; a
    window's total appears only when none of its weeks is hidden, and it agrees with its
    weeks (so no difference between the two gives anyone away)."""
    rng = random.Random(20261130)
    start = date(2026, 6, 1)
    for _ in range(60):
        people = [f"s{n}" for n in range(rng.randint(3, 12))]
        answers = {
            p: {n: rng.randint(1, 5) for n in rng.sample(range(16), rng.randint(1, 12))}
            for p in people
        }
        uow = FakeCheckinUnitOfWork(today=start + timedelta(weeks=4))
        seen: dict[date, object] = {}
        for _ in range(8):
            uow.cells = {"t": _cells(answers, start)}
            trend = await read(uow, weeks=rng.randint(1, 8), team="t")
            for w in trend.weeks:
                assert seen.setdefault(w.week_start, w.figures) == w.figures, w.week_start
                assert w.figures is None or (w.figures.people or 0) >= K
            if trend.overall is not None:
                assert all(w.figures is not None for w in trend.weeks)
                # Over more than a week no distinct count (decision 71); one week: its own.
                shown_people = [w.figures.people for w in trend.weeks if w.figures]
                assert trend.overall.people in (None, *shown_people)
                assert trend.overall.people is None or len(trend.weeks) == 1
                assert trend.overall.checkins == sum(
                    w.figures.checkins for w in trend.weeks if w.figures
                )
            if rng.random() < 0.4 and answers:
                del answers[rng.choice(sorted(answers))]  # erased: their answers are gone
            uow.today += timedelta(weeks=rng.randint(0, 2))


async def test_a_wider_window_first_read_after_an_erasure_shows_no_fewer_people() -> None:
    """Review 3, M1: weeks were frozen but a new window's distinct people were counted from
    live rows, so a wider window first read after an erasure showed fewer people than a
    narrower one read before it (who could only be the erased member). Over more than one
    week no distinct count is published now."""
    uow = team(7)
    # p0-p4 every week; p5 in the last two weeks only; p6 (to be erased) in the last two.
    await checked_in(uow, {f"p{n}": [3, 3, 3] for n in range(5)})
    await checked_in(uow, {"p5": [4, 4], "p6": [1, 1]})
    narrow = await read(uow, weeks=2)
    await erase(uow, "p6")
    wide = await read(uow, weeks=3)
    assert narrow.overall is not None and wide.overall is not None
    assert narrow.overall.people is None and wide.overall.people is None
    assert wide.weeks[-2:] == narrow.weeks  # the two weeks as first served, p6 included
    one = await read(uow, weeks=1)
    assert one.overall is not None and one.overall.people == narrow.weeks[-1].figures.people  # type: ignore[union-attr]


def test_a_week_released_under_a_smaller_k_is_withheld_when_k_is_raised() -> None:
    """Review 3, L2: withholding more is always safe, and the response states today's k."""
    start = date(2026, 11, 2)
    cells = [
        TrendCell(
            start + timedelta(weeks=n),
            frozenset(f"s{p}" for p in range(6)),
            6,
            18,
            6,
            12,
            6,
            0,
            0,
            0,
            0,
        )
        for n in range(2)
    ]
    mondays = [c.week_start for c in cells]
    first = release(mondays, {}, None, cells, min_people=5)
    stored = {w.week_start: w for w in first.weeks}
    assert first.window is not None
    at_five = served("t", mondays, stored, first.window, 5)
    assert all(w.figures is not None for w in at_five.weeks) and at_five.overall is not None
    at_eight = served("t", mondays, stored, first.window, 8)
    assert at_eight.min_people == 8
    assert all(w.figures is None for w in at_eight.weeks) and at_eight.overall is None


def test_no_whole_period_figures_next_to_a_withheld_week_whatever_was_stored() -> None:
    """Review 3, L3: a window row stored by one reader next to week rows stored by a
    concurrent one must still never give whole-period figures over a withheld week."""
    start = date(2026, 11, 2)
    shown = TrendCell(start, frozenset(f"s{p}" for p in range(6)), 6, 18, 6, 12, 6, 0, 0, 0, 0)
    first = release([start], {}, None, [shown], min_people=5)
    assert first.window is not None
    stored = {
        start: first.weeks[0],
        start + timedelta(weeks=1): ReleasedWeek(start + timedelta(weeks=1), WeekState.WITHHELD),
    }
    window = ReleasedWindow(start, start + timedelta(weeks=1), True, 12)
    trend = served("t", sorted(stored), stored, window, 5)
    assert trend.overall is None
