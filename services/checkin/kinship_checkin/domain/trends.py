"""Team trends with k-anonymity: aggregates only over at least k distinct people.

Primary suppression hides any week with fewer than k people. Complementary suppression
then makes sure the hidden weeks cannot be recovered by subtracting the visible weeks from
the whole-period figures: the hidden weeks together must cover at least k people, otherwise
more weeks are hidden (nearest to a hidden week first, then smallest, then earliest), and
the whole-period figures are published only when no week of the window is hidden.

Each closed week is decided once, at its first reading, and released as decided
(``ReleasedWeek``: shown with its aggregates, withheld, or quiet) ever after; so is each
window's availability and whole-period people count (``ReleasedWindow``). Recomputed on
every reading, a week read before and after a member's erasure (which deletes their
check-ins) would give that member's figures by subtraction. A later window decides only its
new weeks: weeks released before keep their decision, shown or withheld.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


@dataclass(frozen=True)
class TrendCell:
    """Raw figures for one week of one team (never leaves the service as is)."""

    week_start: date
    people: frozenset[str]
    checkins: int
    mood_sum: int = 0
    mood_count: int = 0
    stress_sum: int = 0
    stress_count: int = 0
    energy_sum: int = 0
    energy_count: int = 0
    who5_percent_sum: int = 0
    who5_count: int = 0


@dataclass(frozen=True)
class TrendFigures:
    """Published aggregate figures. ``people`` is None for a window of more than one week:
    distinct people across weeks cannot be fixed week by week without keeping ids, and a count
    first worked out after someone's erasure would show that they took part (decision 71)."""

    people: int | None
    checkins: int
    mood_mean: float | None
    stress_mean: float | None
    energy_mean: float | None
    who5_percent_mean: float | None


@dataclass(frozen=True)
class WeekTrend:
    """One week: figures, or ``None`` when suppressed."""

    week_start: date
    figures: TrendFigures | None


@dataclass(frozen=True)
class TeamTrend:
    """A team's trend as a manager may see it."""

    team_id: str
    min_people: int
    available: bool
    weeks: list[WeekTrend] = field(default_factory=list)
    overall: TrendFigures | None = None


class WeekState(StrEnum):
    """What a closed week's first reading released."""

    SHOWN = "shown"
    WITHHELD = "withheld"
    QUIET = "quiet"  # no check-ins by its first reading


@dataclass(frozen=True)
class WeekTotals:
    """A shown week's aggregates (at least k people): counts and sums, no one's id."""

    people: int
    checkins: int
    mood_sum: int = 0
    mood_count: int = 0
    stress_sum: int = 0
    stress_count: int = 0
    energy_sum: int = 0
    energy_count: int = 0
    who5_percent_sum: int = 0
    who5_count: int = 0


@dataclass(frozen=True)
class ReleasedWeek:
    """A closed week as its first reading decided it: served so ever after."""

    week_start: date
    state: WeekState
    totals: WeekTotals | None = None  # shown weeks only


@dataclass(frozen=True)
class ReleasedWindow:
    """A window of closed weeks as its first reading decided it: whether it is available
    (at least k people over it) and, when every week of it is shown, its distinct people."""

    first_week: date
    last_week: date
    available: bool
    people: int | None = None


@dataclass(frozen=True)
class ReleasedTrend:
    """What the store holds for a window: its closed weeks' Mondays (oldest first), the
    weeks of it released so far, and the window if it was read before."""

    mondays: list[date]
    weeks: dict[date, ReleasedWeek]
    window: ReleasedWindow | None

    @property
    def complete(self) -> bool:
        """Every week of the window and the window itself are released."""
        return self.window is not None and all(m in self.weeks for m in self.mondays)


@dataclass(frozen=True)
class Release:
    """What a reading adds to the store: its new weeks, and its window if new."""

    weeks: list[ReleasedWeek]
    window: ReleasedWindow | None


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


def _totals(cell: TrendCell) -> WeekTotals:
    return WeekTotals(
        people=len(cell.people),
        checkins=cell.checkins,
        mood_sum=cell.mood_sum,
        mood_count=cell.mood_count,
        stress_sum=cell.stress_sum,
        stress_count=cell.stress_count,
        energy_sum=cell.energy_sum,
        energy_count=cell.energy_count,
        who5_percent_sum=cell.who5_percent_sum,
        who5_count=cell.who5_count,
    )


def _figures(totals: Sequence[WeekTotals], people: int | None) -> TrendFigures:
    def total(name: str) -> int:
        return sum(getattr(week, name) for week in totals)

    return TrendFigures(
        people=people,
        checkins=total("checkins"),
        mood_mean=_mean(total("mood_sum"), total("mood_count")),
        stress_mean=_mean(total("stress_sum"), total("stress_count")),
        energy_mean=_mean(total("energy_sum"), total("energy_count")),
        who5_percent_mean=_mean(total("who5_percent_sum"), total("who5_count")),
    )


def _people(cells: Sequence[TrendCell]) -> int:
    return len(frozenset().union(*(cell.people for cell in cells)))


def _weeks_apart(one: date, other: date) -> int:
    return abs((one - other).days) // 7


def release(
    mondays: Sequence[date],
    released: Mapping[date, ReleasedWeek],
    window: ReleasedWindow | None,
    cells: Sequence[TrendCell],
    min_people: int,
) -> Release:
    """Decide the weeks of a window (``mondays``, closed weeks) that no reading has released
    yet, and the window itself if it is new, from ``cells`` (the window's weekly figures as
    each week was first read).

    Weeks released before are not decided again (their figures are not even consulted):
    primary and complementary suppression run over the new weeks only, a new week under k
    people taking new shown weeks with it (nearest first, so the pair stays together in the
    shorter windows a manager may read next, then smallest, then earliest) until the new
    hidden weeks cover k people. The window is available when a week of it is shown or
    ``cells`` cover k people; its whole-period people count is kept only when every week of
    it is shown (or quiet).
    """
    by_week = {cell.week_start: cell for cell in cells if cell.week_start in set(mondays)}
    new = [by_week[m] for m in sorted(mondays) if m not in released and m in by_week]
    hidden = [cell for cell in new if len(cell.people) < min_people]
    visible = [cell for cell in new if len(cell.people) >= min_people]
    while hidden and _people(hidden) < min_people and visible:
        nearest = min(
            visible,
            key=lambda cell: (
                min(_weeks_apart(cell.week_start, h.week_start) for h in hidden),
                len(cell.people),
                cell.week_start,
            ),
        )
        visible.remove(nearest)
        hidden.append(nearest)
    shown = {cell.week_start for cell in visible}
    weeks = [
        ReleasedWeek(m, WeekState.QUIET)
        if m not in by_week
        else ReleasedWeek(m, WeekState.SHOWN, _totals(by_week[m]))
        if m in shown
        else ReleasedWeek(m, WeekState.WITHHELD)
        for m in sorted(mondays)
        if m not in released
    ]
    if window is None and mondays:
        every = {**{w.week_start: w for w in weeks}, **released}
        states = [every[m] for m in mondays]
        shown_weeks = [w.totals for w in states if w.totals is not None]
        available = bool(shown_weeks) or _people(list(by_week.values())) >= min_people
        all_shown = available and all(w.state is not WeekState.WITHHELD for w in states)
        people: int | None = None
        if all_shown and shown_weeks:
            # Marks the window's whole-period figures as publishable. Only a one-week window
            # serves it as its people count (that week's, fixed with the week); over more
            # weeks the count is withheld (``served``), as distinct people first counted after
            # an erasure would be one fewer. Kept from the stored weeks alone (rows stored
            # before review 3 hold a distinct count: only whether it is null is ever read).
            people = sum(t.people for t in shown_weeks)
        window = ReleasedWindow(min(mondays), max(mondays), available, people)
        return Release(weeks, window)
    return Release(weeks, None)


def served(
    team_id: str,
    mondays: Sequence[date],
    released: Mapping[date, ReleasedWeek],
    window: ReleasedWindow,
    min_people: int,
) -> TeamTrend:
    """The trend of a window, from released weeks and the released window only."""
    if not window.available:
        return TeamTrend(team_id=team_id, min_people=min_people, available=False)
    weeks = [_under_current_k(released[m], min_people) for m in sorted(mondays)]
    listed = [w for w in weeks if w.state is not WeekState.QUIET]
    shown = [w.totals for w in listed if w.totals is not None]
    whole = window.people is not None and all(w.state is not WeekState.WITHHELD for w in weeks)
    return TeamTrend(
        team_id=team_id,
        min_people=min_people,
        available=True,
        weeks=[
            WeekTrend(w.week_start, _figures([w.totals], w.totals.people) if w.totals else None)
            for w in listed
        ],
        overall=_figures(shown, shown[0].people if len(mondays) == 1 else None)
        if whole and shown
        else None,
    )


def _under_current_k(week: ReleasedWeek, min_people: int) -> ReleasedWeek:
    """A stored week as served under today's k: one released under a smaller k is withheld
    now (withholding more is always safe; the response states today's k)."""
    if week.totals is not None and week.totals.people < min_people:
        return ReleasedWeek(week.week_start, WeekState.WITHHELD)
    return week


def team_trend(team_id: str, cells: list[TrendCell], min_people: int) -> TeamTrend:
    """The publishable trend of a window read for the first time (nothing released before),
    suppressing every group smaller than ``min_people``."""
    mondays = sorted({cell.week_start for cell in cells})
    if not mondays:
        return TeamTrend(team_id=team_id, min_people=min_people, available=False)
    decided = release(mondays, {}, None, cells, min_people)
    assert decided.window is not None
    weeks = {week.week_start: week for week in decided.weeks}
    return served(team_id, mondays, weeks, decided.window, min_people)
