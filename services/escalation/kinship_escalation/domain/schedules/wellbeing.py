"""Responder wellbeing figures: on-call load per person, and fair shares across a rotation.

Pure arithmetic over shifts (from :func:`~.calculation.shifts`) and over the pages and cases
the caller counted; durations are exact ``timedelta``s, with ``hours`` for display.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, computed_field

from kinship_escalation.domain.schedules.calculation import (
    Resting,
    checked_period,
    layer_shifts,
    shifts,
)
from kinship_escalation.domain.schedules.local_time import resolve_on, wall, zone
from kinship_escalation.domain.schedules.model import Schedule, Shift, TimeOfDay

_HOUR = timedelta(hours=1)
_ONE_DAY = timedelta(days=1)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NightWindow(_Frozen):
    """The hours that count as night, in each person's own zone.

    The default, 23:00-06:00, is the UK Working Time Regulations' default night time (the EU
    directive asks for at least seven hours including midnight to 05:00).
    """

    start: TimeOfDay = time(23)
    end: TimeOfDay = time(6)


Interval = tuple[datetime, datetime]


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals joined, in time order."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Iterable[Interval]) -> timedelta:
    return sum((end - start for start, end in intervals), timedelta())


def _clipped(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    return [(max(s, lo), min(e, hi)) for s, e in intervals if e > lo and s < hi]


def _nights(time_zone: str, night: NightWindow, lo: datetime, hi: datetime) -> list[Interval]:
    """The night windows in ``time_zone`` that overlap ``lo``-``hi``."""
    tz = zone(time_zone)
    crosses = night.end <= night.start
    day, last = wall(lo, tz).date() - _ONE_DAY, wall(hi, tz).date() + _ONE_DAY
    windows: list[Interval] = []
    while day <= last:
        end_day = day + _ONE_DAY if crosses else day
        windows.append((resolve_on(day, night.start, tz), resolve_on(end_day, night.end, tz)))
        day += _ONE_DAY
    return _clipped(_merged(windows), lo, hi)


def _overlap(first: Sequence[Interval], second: Sequence[Interval]) -> timedelta:
    """How long two sets of disjoint, sorted intervals overlap."""
    total, i, j = timedelta(), 0, 0
    while i < len(first) and j < len(second):
        start, end = max(first[i][0], second[j][0]), min(first[i][1], second[j][1])
        if end > start:
            total += end - start
        if first[i][1] <= second[j][1]:
            i += 1
        else:
            j += 1
    return total


class OnCallLoad(_Frozen):
    """One person's on-call load over a period."""

    person_id: str
    on_call: timedelta = Field(description="Time on call (overlapping shifts counted once).")
    night: timedelta = Field(description="Of which at night in the person's zone.")
    pages: int = Field(ge=0)
    night_pages: int = Field(ge=0)
    cases: int = Field(ge=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_call_hours(self) -> float:
        """``on_call`` in hours."""
        return self.on_call / _HOUR

    @computed_field  # type: ignore[prop-decorator]
    @property
    def night_hours(self) -> float:
        """``night`` in hours."""
        return self.night / _HOUR


def on_call_load(
    shifts: Iterable[Shift],
    start: datetime,
    end: datetime,
    *,
    time_zones: Mapping[str, str],
    default_time_zone: str = "UTC",
    pages: Mapping[str, Sequence[datetime]] | None = None,
    cases: Mapping[str, Sequence[datetime]] | None = None,
    night: NightWindow | None = None,
) -> list[OnCallLoad]:
    """Each person's load between ``start`` and ``end``, sorted by person id.

    ``shifts`` may come from several schedules; a person's overlapping shifts count once.
    ``time_zones`` maps a person to their IANA zone (``default_time_zone`` otherwise) for
    night hours and night pages. ``pages`` and ``cases`` list the instants each person was
    paged or given a case; only those in the period count. Everyone with a shift, a page or a
    case in the period gets a row.
    """
    lo, hi = checked_period(start, end)
    window = night or NightWindow()
    on_call: dict[str, list[Interval]] = {}
    for shift in shifts:
        on_call.setdefault(shift.person_id, []).append((shift.start, shift.end))

    def within(instants: Sequence[datetime]) -> list[datetime]:
        return [t.astimezone(UTC) for t in instants if lo <= t < hi]

    paged = {person: within(times) for person, times in (pages or {}).items()}
    given = {person: within(times) for person, times in (cases or {}).items()}
    people = sorted(
        {p for p, found in on_call.items() if _clipped(found, lo, hi)}
        | {p for p, times in paged.items() if times}
        | {p for p, times in given.items() if times}
    )
    loads = []
    for person in people:
        nights = _nights(time_zones.get(person, default_time_zone), window, lo, hi)
        held = _clipped(_merged(on_call.get(person, [])), lo, hi)
        person_pages = paged.get(person, [])
        loads.append(
            OnCallLoad(
                person_id=person,
                on_call=_length(held),
                night=_overlap(held, nights),
                pages=len(person_pages),
                night_pages=sum(any(s <= t < e for s, e in nights) for t in person_pages),
                cases=len(given.get(person, [])),
            )
        )
    return loads


class ParticipantShare(_Frozen):
    """One participant's part of the covered time, against an even split."""

    person_id: str
    on_call: timedelta
    share: float = Field(description="Fraction of the covered time this person held.")
    even_share: float = Field(description="1 / number of participants.")
    difference: timedelta = Field(description="on_call minus the even split of covered time.")


class FairShareReport(_Frozen):
    """How a rotation's covered time was split over a period.

    ``sum(p.on_call for p in participants) + others + uncovered == period``: every moment is
    held by a participant, held by someone outside the rotation (an override), or uncovered.
    """

    start: datetime
    end: datetime
    period: timedelta
    covered: timedelta = Field(description="Time someone was on call.")
    uncovered: timedelta = Field(description="Time nobody was on call.")
    others: timedelta = Field(description="Time held by people outside the rotation.")
    even: timedelta = Field(description="covered / number of participants.")
    participants: tuple[ParticipantShare, ...]


def fair_share(
    shifts: Iterable[Shift], participants: Sequence[str], start: datetime, end: datetime
) -> FairShareReport:
    """Each participant's share of the time covered between ``start`` and ``end``.

    ``shifts`` must not overlap (one schedule's or one layer's); participants are counted
    once each, in the order given, with zero when they held nothing.
    """
    lo, hi = checked_period(start, end)
    held = sorted(
        (max(shift.start, lo), min(shift.end, hi), shift.person_id)
        for shift in shifts
        if shift.end > lo and shift.start < hi
    )
    for (_, first_end, _), (second_start, _, _) in pairwise(held):
        if second_start < first_end:
            raise ValueError(
                "shifts overlap: give one schedule's (or one layer's) shifts to fair_share"
            )
    people = list(dict.fromkeys(participants))
    if not people:
        raise ValueError("a fair-share report needs at least one participant")
    by_person = {person: timedelta() for person in people}
    others = timedelta()
    for shift_start, shift_end, person in held:
        if person in by_person:
            by_person[person] += shift_end - shift_start
        else:
            others += shift_end - shift_start
    covered = sum(by_person.values(), others)
    even = covered / len(people)
    return FairShareReport(
        start=lo,
        end=hi,
        period=hi - lo,
        covered=covered,
        uncovered=(hi - lo) - covered,
        others=others,
        even=even,
        participants=tuple(
            ParticipantShare(
                person_id=person,
                on_call=by_person[person],
                share=by_person[person] / covered if covered else 0.0,
                even_share=1 / len(people),
                difference=by_person[person] - even,
            )
            for person in people
        ),
    )


def schedule_fair_share(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    layer: str | None = None,
    resting: Resting | None = None,
) -> FairShareReport:
    """:func:`fair_share` of a schedule's effective shifts among all its layers' participants,
    or of one layer's own shifts among that layer's participants."""
    if layer is None:
        people = [p for each in schedule.layers for p in each.participants]
        return fair_share(shifts(schedule, start, end, resting), people, start, end)
    found = layer_shifts(schedule, layer, start, end, resting)
    return fair_share(found, schedule.layer(layer).participants, start, end)
