"""Team trends with k-anonymity: aggregates only over at least k distinct people.

Primary suppression hides any week with fewer than k people. Complementary suppression
then makes sure the hidden weeks cannot be recovered by subtracting the visible weeks from
the whole-period figures: the hidden weeks together must cover at least k people, otherwise
more weeks are hidden (smallest first), and failing that, the whole-period figures too.
"""

from dataclasses import dataclass, field
from datetime import date


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
    """Published aggregate figures."""

    people: int
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


def _mean(total: int, count: int) -> float | None:
    return round(total / count, 2) if count else None


def _figures(cells: list[TrendCell]) -> TrendFigures:
    people: set[str] = set()
    for cell in cells:
        people |= cell.people

    def total(name: str) -> int:
        return sum(getattr(cell, name) for cell in cells)

    return TrendFigures(
        people=len(people),
        checkins=total("checkins"),
        mood_mean=_mean(total("mood_sum"), total("mood_count")),
        stress_mean=_mean(total("stress_sum"), total("stress_count")),
        energy_mean=_mean(total("energy_sum"), total("energy_count")),
        who5_percent_mean=_mean(total("who5_percent_sum"), total("who5_count")),
    )


def _people(cells: list[TrendCell]) -> int:
    return len(frozenset().union(*(cell.people for cell in cells)))


def team_trend(team_id: str, cells: list[TrendCell], min_people: int) -> TeamTrend:
    """The publishable trend of a team, suppressing every group smaller than ``min_people``."""
    cells = sorted(cells, key=lambda cell: cell.week_start)
    if _people(cells) < min_people:
        return TeamTrend(team_id=team_id, min_people=min_people, available=False)
    hidden = [cell for cell in cells if len(cell.people) < min_people]
    visible = [cell for cell in cells if len(cell.people) >= min_people]
    while hidden and _people(hidden) < min_people and visible:
        smallest = min(visible, key=lambda cell: (len(cell.people), cell.week_start))
        visible.remove(smallest)
        hidden.append(smallest)
    # Whole-period figures only when no week is hidden: callers choose the window, and the
    # difference of two windows' totals would otherwise reveal a hidden week.
    show_overall = not hidden
    shown = {cell.week_start for cell in visible}
    return TeamTrend(
        team_id=team_id,
        min_people=min_people,
        available=True,
        weeks=[
            WeekTrend(cell.week_start, _figures([cell]) if cell.week_start in shown else None)
            for cell in cells
        ],
        overall=_figures(cells) if show_overall else None,
    )
