"""Wall-clock times in a named zone, turned into instants by one rule.

Every local time a schedule names (a hand-off, a restriction's edge, the start of a holiday, a
night window) becomes an instant through :func:`resolve`: *the first instant at which the
zone's clock shows that time or later*. So

- a time that exists once is that instant;
- a time that exists twice (the hour repeated when clocks go back) is its first occurrence;
- a time that does not exist (skipped when clocks go forward) is the instant the clocks jump,
  the first instant after the gap, as cron runs a job scheduled in a skipped hour.

The rule is monotone: a later wall-clock time never resolves to an earlier instant, so shifts
built from it can be empty but never negative.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ONE_MICROSECOND = timedelta(microseconds=1)


class UnknownTimeZoneError(ValueError):
    """A time zone name that is not in the IANA database."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London' or 'UTC'"
        )
        self.name = name


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; :class:`UnknownTimeZoneError` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZoneError(name) from error


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """What the zone's clock shows at ``instant`` (a naive datetime)."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


@lru_cache(maxsize=65_536)
def resolve(local: datetime, tz: ZoneInfo) -> datetime:
    """The first instant (aware, UTC) at which ``tz``'s clock shows ``local`` or later."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if wall(first, tz) == local:
        return first  # exists; fold=0 is the first of two occurrences
    # ``local`` falls in a gap: one reading of it lies before the jump, the other after.
    lo, hi = sorted((first, local.replace(tzinfo=tz, fold=1).astimezone(UTC)))
    while hi - lo > _ONE_MICROSECOND:
        middle = lo + (hi - lo) // 2
        if wall(middle, tz) >= local:
            hi = middle
        else:
            lo = middle
    return hi


def resolve_on(day: date, at: time, tz: ZoneInfo) -> datetime:
    """:func:`resolve` for a time of day on a calendar day."""
    return resolve(datetime.combine(day, at), tz)


def day_span(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants a calendar day runs between in ``tz``: its midnight to the next one's."""
    return resolve_on(day, time(), tz), resolve_on(day + timedelta(days=1), time(), tz)
