"""Check-in streaks: weekly cadence in the person's local time, one missed week forgiven."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

STREAK_MILESTONES = (4, 12, 26, 52)


def week_of(at: datetime) -> date:
    """The Monday of the week ``at`` falls in, in the local time its own UTC offset gives.

    A check-in's ``occurred_at`` carries the offset of the device it was made on (RFC 3339),
    so the person's week needs no directory time zone, and no lookup by subject id.
    """
    local = at.date()
    return local - timedelta(days=local.weekday())


def current_streak(weeks: Iterable[date]) -> int:
    """Weeks with a check-in in the run that ends with the latest one.

    A single missed week does not break the run (and does not count); two in a row do.
    """
    ordered = sorted(set(weeks), reverse=True)
    if not ordered:
        return 0
    streak, previous = 1, ordered[0]
    for week in ordered[1:]:
        gap = (previous - week).days // 7
        if gap > 2:
            break
        streak += 1
        previous = week
    return streak


def streak_milestones(streak: int) -> list[int]:
    """The milestones a streak of ``streak`` weeks has reached."""
    return [milestone for milestone in STREAK_MILESTONES if streak >= milestone]


@dataclass(frozen=True)
class StreakSummary:
    """A person's weekly check-in streak as they see it."""

    current: int
    """Weeks in the run still going: 0 once two weeks in a row have passed without one."""
    longest: int
    """Weeks in the longest run ever (one missed week forgiven inside a run)."""
    last_week: date | None
    """The Monday of the latest week with a check-in."""
    weeks: int
    """Weeks with a check-in, in all."""


def longest_streak(weeks: Iterable[date]) -> int:
    """Weeks in the longest run, with the same forgiveness as ``current_streak``."""
    ordered = sorted(set(weeks))
    longest = run = 0
    previous: date | None = None
    for week in ordered:
        run = run + 1 if previous is not None and (week - previous).days // 7 <= 2 else 1
        longest = max(longest, run)
        previous = week
    return longest


def streak_summary(weeks: Iterable[date], today: date) -> StreakSummary:
    """The current and longest streak as of ``today`` (a run whose last week is more than
    two weeks before this week is over: two weeks in a row were missed)."""
    ordered = sorted(set(weeks))
    if not ordered:
        return StreakSummary(0, 0, None, 0)
    this_week = today - timedelta(days=today.weekday())
    alive = (this_week - ordered[-1]).days // 7 <= 2
    return StreakSummary(
        current=current_streak(ordered) if alive else 0,
        longest=longest_streak(ordered),
        last_week=ordered[-1],
        weeks=len(ordered),
    )
