"""Check-in streaks: weekly cadence in the person's local time, one missed week forgiven."""

from collections.abc import Iterable
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
