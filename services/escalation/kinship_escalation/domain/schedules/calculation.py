"""Who is on call: the effective responder at an instant, the shifts of a period, hand-offs.

How one instant is decided (each step only where it applies):

1. **Turns.** A layer's turn ``k`` starts at ``start_date + handoff_time + k * rotation`` on
   the wall clock of the schedule's zone, resolved to an instant by
   :func:`~kinship_escalation.domain.schedules.local_time.resolve`; participant
   ``k mod n`` holds it. Nobody is on call in a layer before its first turn.
2. **Restrictions and holidays.** A restricted layer is on call only inside its windows; a
   ``skip`` layer not on holidays, an ``only`` layer only on holidays. Outside, the turn goes
   on (PagerDuty semantics): restrictions mask turns, they do not delay them.
3. **Swaps** exchange the two participants wherever either holds the turn.
4. **Layer overrides** replace the layer's responder where the layer is on call.
5. **Rest.** A resting person (``resting[person] > instant``) is skipped: a resting override
   falls back to the turn's holder; a resting holder is covered by the next participant of
   the layer after the turn's position, in list order, who is not resting. When everyone in
   the layer rests the layer has nobody, and the layers beneath decide (then the policy's
   coordinators). The schedule is not changed.
6. **Layers**: the last layer in the list with someone on call wins.
7. **Schedule overrides** put their person on call over everything, even where nobody was;
   the last listed wins where several overlap, and one whose person rests is skipped.

Everything above only changes at a *boundary* (a turn start, a window edge, a holiday's
midnight, an override's or swap's start or end, the end of someone's rest), so a period is
computed by evaluating one instant per stretch between boundaries and merging stretches that
belong to the same person, layer, reason and turn (or override).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from kinship_escalation.domain.schedules.local_time import day_span, resolve, resolve_on, wall, zone
from kinship_escalation.domain.schedules.model import (
    HolidayRule,
    Layer,
    Restriction,
    Schedule,
    Shift,
    ShiftSource,
    Weekday,
)

Resting = Mapping[str, datetime]
"""People who must rest, each until an aware instant (e.g. after a critical case)."""

#: The longest period :func:`shifts` computes in one call.
LONGEST_PERIOD = timedelta(days=732)

_NOBODY_RESTS: Resting = {}
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class _Cover:
    """Who is on call at one instant, and why; ``token`` names the turn or override held."""

    person_id: str
    layer: str | None
    source: ShiftSource
    token: tuple[str, int]


def _rests(resting: Resting, person_id: str, instant: datetime) -> bool:
    until = resting.get(person_id)
    return until is not None and instant < until


class _LayerClock:
    """One layer's turns, windows and holidays as instants."""

    def __init__(self, layer: Layer, tz: ZoneInfo, holidays: frozenset[date]) -> None:
        self.layer = layer
        self.tz = tz
        self.holidays = holidays
        self.anchor = datetime.combine(layer.start_date, layer.handoff_time)
        self.step = layer.rotation.step

    def turn_start(self, k: int) -> datetime:
        return resolve(self.anchor + k * self.step, self.tz)

    def turn_at(self, instant: datetime) -> int | None:
        """The turn held at ``instant``: the last one started by then; None before the first."""
        k = (wall(instant, self.tz) - self.anchor) // self.step + 1
        while k >= 0 and self.turn_start(k) > instant:
            k -= 1
        if k < 0:
            return None
        while self.turn_start(k + 1) <= instant:
            k += 1
        return k

    def window(self, restriction: Restriction, day: date) -> tuple[datetime, datetime]:
        """The window ``restriction`` opens on ``day`` (whether or not it opens on that weekday)."""
        end_day = day + _ONE_DAY if restriction.crosses_midnight else day
        return (
            resolve_on(day, restriction.start, self.tz),
            resolve_on(end_day, restriction.end, self.tz),
        )

    def in_window(self, instant: datetime) -> bool:
        if not self.layer.restrictions:
            return True
        today = wall(instant, self.tz).date()
        for day in (today - _ONE_DAY, today, today + _ONE_DAY):
            weekday = Weekday.of(day)
            for restriction in self.layer.restrictions:
                if weekday in restriction.days:
                    start, end = self.window(restriction, day)
                    if start <= instant < end:
                        return True
        return False

    def on_holiday(self, instant: datetime) -> bool:
        today = wall(instant, self.tz).date()
        for day in (today - _ONE_DAY, today, today + _ONE_DAY):
            if day in self.holidays:
                start, end = day_span(day, self.tz)
                if start <= instant < end:
                    return True
        return False

    def active(self, instant: datetime) -> bool:
        rule = self.layer.on_holidays
        if rule is HolidayRule.SKIP and self.on_holiday(instant):
            return False
        if rule is HolidayRule.ONLY and not self.on_holiday(instant):
            return False
        return self.in_window(instant)

    def boundaries(self, lo: datetime, hi: datetime) -> Iterable[datetime]:
        k = self.turn_at(lo)
        k = 0 if k is None else k
        while (start := self.turn_start(k)) < hi:
            yield start
            k += 1
        first, last = wall(lo, self.tz).date() - _ONE_DAY, wall(hi, self.tz).date() + _ONE_DAY
        if self.layer.restrictions:
            day = first
            while day <= last:
                weekday = Weekday.of(day)
                for restriction in self.layer.restrictions:
                    if weekday in restriction.days:
                        yield from self.window(restriction, day)
                day += _ONE_DAY
        if self.layer.on_holidays is not HolidayRule.APPLY:
            for holiday in self.holidays:
                if first <= holiday <= last:
                    yield from day_span(holiday, self.tz)


class _Plan:
    """A schedule ready to be evaluated at instants."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.tz = zone(schedule.time_zone)
        holidays = frozenset(holiday.date for holiday in schedule.holidays)
        self.clocks = [_LayerClock(layer, self.tz, holidays) for layer in schedule.layers]

    def clock(self, name: str) -> _LayerClock:
        for clock in self.clocks:
            if clock.layer.name == name:
                return clock
        raise KeyError(f"schedule {self.schedule.name!r} has no layer {name!r}")

    def layer_cover(self, clock: _LayerClock, instant: datetime, resting: Resting) -> _Cover | None:
        k = clock.turn_at(instant)
        if k is None or not clock.active(instant):
            return None
        name, people = clock.layer.name, clock.layer.participants
        override = self.override_cover(name, instant, resting)
        if override is not None:
            return override
        position = k % len(people)
        holder, source = self.swapped(name, people[position], instant)
        if not _rests(resting, holder, instant):
            return _Cover(holder, name, source, ("turn", k))
        for offset in range(1, len(people)):
            other = people[(position + offset) % len(people)]
            if not _rests(resting, other, instant):
                return _Cover(other, name, ShiftSource.REST_COVER, ("turn", k))
        return None

    def swapped(self, layer: str, holder: str, instant: datetime) -> tuple[str, ShiftSource]:
        """Who holds a turn of ``layer`` after the swaps in force at the instant, and why."""
        source = ShiftSource.ROTATION
        for swap in self.schedule.swaps:
            if swap.layer in (None, layer) and swap.start <= instant < swap.end:
                if holder == swap.first:
                    holder, source = swap.second, ShiftSource.SWAP
                elif holder == swap.second:
                    holder, source = swap.first, ShiftSource.SWAP
        return holder, source

    def override_cover(
        self, layer: str | None, instant: datetime, resting: Resting
    ) -> _Cover | None:
        """The last listed override of ``layer`` (``None``: of the whole schedule) in force at
        the instant whose person is not resting."""
        overrides = self.schedule.overrides
        for index in reversed(range(len(overrides))):
            override = overrides[index]
            if (
                override.layer == layer
                and override.start <= instant < override.end
                and not _rests(resting, override.person_id, instant)
            ):
                return _Cover(override.person_id, layer, ShiftSource.OVERRIDE, ("override", index))
        return None

    def layers_cover(self, instant: datetime, resting: Resting) -> _Cover | None:
        for clock in reversed(self.clocks):
            cover = self.layer_cover(clock, instant, resting)
            if cover is not None:
                return cover
        return None

    def cover(self, instant: datetime, resting: Resting) -> _Cover | None:
        return self.override_cover(None, instant, resting) or self.layers_cover(instant, resting)

    def boundaries(
        self, lo: datetime, hi: datetime, resting: Resting, clocks: Iterable[_LayerClock]
    ) -> list[datetime]:
        points = {lo, hi}
        for clock in clocks:
            points.update(clock.boundaries(lo, hi))
        for override in self.schedule.overrides:
            points.update((override.start, override.end))
        for swap in self.schedule.swaps:
            points.update((swap.start, swap.end))
        points.update(resting.values())
        return sorted(point.astimezone(UTC) for point in points if lo <= point <= hi)

    def segments(
        self,
        lo: datetime,
        hi: datetime,
        resting: Resting,
        clocks: Iterable[_LayerClock],
        cover: Callable[[datetime], _Cover | None],
    ) -> list[Shift]:
        found: list[Shift] = []
        current: tuple[_Cover, datetime, datetime] | None = None
        for start, end in pairwise(self.boundaries(lo, hi, resting, clocks)):
            if start == end:
                continue
            held = cover(start)
            if current is not None and held == current[0] and current[2] == start:
                current = (held, current[1], end)
                continue
            if current is not None:
                found.append(_shift(*current))
            current = (held, start, end) if held is not None else None
        if current is not None:
            found.append(_shift(*current))
        return found

    def margin(self) -> timedelta:
        """Longer than any one shift can last: its turn or its override, plus a day or two."""
        longest = max(clock.step for clock in self.clocks)
        for override in self.schedule.overrides:
            longest = max(longest, override.end - override.start)
        return longest + 2 * _ONE_DAY


def _shift(cover: _Cover, start: datetime, end: datetime) -> Shift:
    return Shift(
        person_id=cover.person_id, start=start, end=end, layer=cover.layer, source=cover.source
    )


def checked_instant(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (with an offset), got {value!r}")
    return value.astimezone(UTC)


def checked_period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    lo, hi = checked_instant(start, "start"), checked_instant(end, "end")
    if hi <= lo:
        raise ValueError(f"the period ends ({hi.isoformat()}) before it starts ({lo.isoformat()})")
    if hi - lo > LONGEST_PERIOD:
        raise ValueError(f"ask for at most {LONGEST_PERIOD.days} days at a time")
    return lo, hi


def _resting(resting: Resting | None) -> Resting:
    if not resting:
        return _NOBODY_RESTS
    return {  # no person id in the error: it may end up in a log
        person: checked_instant(until, "the end of a rest") for person, until in resting.items()
    }


def _within(found: list[Shift], lo: datetime, hi: datetime) -> list[Shift]:
    return [shift for shift in found if shift.end > lo and shift.start < hi]


def on_call_at(schedule: Schedule, instant: datetime, resting: Resting | None = None) -> list[str]:
    """The effective responders at ``instant``: one person id, or none when nobody is on call."""
    cover = _Plan(schedule).cover(checked_instant(instant, "instant"), _resting(resting))
    return [cover.person_id] if cover is not None else []


def on_call_order(
    schedule: Schedule, instant: datetime, resting: Resting | None = None
) -> list[str]:
    """Whom to try at ``instant``, in order: the responder on call, then the covering layer.

    After the effective responder come the participants of the layer on call (for a schedule
    override, the layer that would be on call without it) from the current turn's holder on,
    in list order, each once; people resting come last. Empty when nobody is on call. This is
    what ``OnCallRotation.order_at`` gave the escalation handlers.
    """
    moment, rests = checked_instant(instant, "instant"), _resting(resting)
    plan = _Plan(schedule)
    cover = plan.cover(moment, rests)
    if cover is None:
        return []
    layer_name = cover.layer
    if layer_name is None:
        beneath = plan.layers_cover(moment, rests)
        layer_name = beneath.layer if beneath is not None else None
    order = [cover.person_id]
    if layer_name is not None:
        clock = plan.clock(layer_name)
        people = clock.layer.participants
        position = (clock.turn_at(moment) or 0) % len(people)
        for offset in range(len(people)):
            person = people[(position + offset) % len(people)]
            if person not in order:
                order.append(person)
    awake = [person for person in order if not _rests(rests, person, moment)]
    return awake + [person for person in order if person not in awake]


def shifts(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    resting: Resting | None = None,
    *,
    whole: bool = False,
) -> list[Shift]:
    """The effective responders' shifts between ``start`` and ``end``, in time order (UTC).

    Shifts never overlap; the gaps between them are times nobody is on call. A shift ends at
    every hand-off, even to the same person, and at every change of reason (an override, a
    swap, rest cover). Cut at ``start`` and ``end`` unless ``whole``: then every shift that
    overlaps the period is given whole, as a calendar feed needs.
    """
    lo, hi = checked_period(start, end)
    plan = _Plan(schedule)
    rests = _resting(resting)
    if not whole:
        return plan.segments(lo, hi, rests, plan.clocks, lambda t: plan.cover(t, rests))
    margin = plan.margin()
    found = plan.segments(
        lo - margin, hi + margin, rests, plan.clocks, lambda t: plan.cover(t, rests)
    )
    return _within(found, lo, hi)


def layer_shifts(
    schedule: Schedule,
    layer: str,
    start: datetime,
    end: datetime,
    resting: Resting | None = None,
    *,
    whole: bool = False,
) -> list[Shift]:
    """One layer's own shifts (its turns, swaps, layer overrides and rest cover), as in
    :func:`shifts` but before higher layers and schedule overrides are laid over it."""
    lo, hi = checked_period(start, end)
    plan = _Plan(schedule)
    clock = plan.clock(layer)
    rests = _resting(resting)
    margin = plan.margin() if whole else timedelta()
    found = plan.segments(
        lo - margin, hi + margin, rests, [clock], lambda t: plan.layer_cover(clock, t, rests)
    )
    return _within(found, lo, hi)


def next_handoff(
    schedule: Schedule,
    instant: datetime,
    resting: Resting | None = None,
    *,
    within: timedelta = timedelta(days=366),
) -> datetime | None:
    """The first instant after ``instant`` at which the effective responders change.

    A turn passing to the same person is not a hand-off; someone going off call with nobody
    after them is. None when nothing changes ``within`` the given time.
    """
    moment, rests = checked_instant(instant, "instant"), _resting(resting)
    plan = _Plan(schedule)

    def people(at: datetime) -> str | None:
        cover = plan.cover(at, rests)
        return cover.person_id if cover is not None else None

    now_on_call = people(moment)
    limit = moment + within
    lo, chunk = moment, timedelta(days=8)
    while lo < limit:
        hi = min(lo + chunk, limit)
        for point in plan.boundaries(lo, hi, rests, plan.clocks):
            if moment < point < limit and people(point) != now_on_call:
                return point
        lo, chunk = hi, chunk * 4
    return None
