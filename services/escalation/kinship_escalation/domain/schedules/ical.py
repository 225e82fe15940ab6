"""iCalendar (RFC 5545) feeds of on-call shifts, for a schedule or for one person.

Times are written in UTC (``...Z``), so no calendar has to agree with us on time zone rules.
An event's UID hashes the schedule, layer, person and start, so it stays the same from one
fetch of the feed to the next and a calendar updates an event instead of duplicating it;
a shift whose end moves (an override shortening it) keeps its UID. The feed carries nothing
about a person beyond their id: no name, no address, no case.
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vDuration

from kinship_escalation.domain.schedules.calculation import Resting, shifts
from kinship_escalation.domain.schedules.model import Schedule, Shift

PRODID = "-//Kinship//On-call schedules//EN"
#: How often calendar clients are asked to fetch the feed again (RFC 7986 REFRESH-INTERVAL).
REFRESH = timedelta(hours=1)


def shift_uid(schedule: Schedule, shift: Shift) -> str:
    """A UID for a shift that is stable across fetches of the feed."""
    key = "\x1f".join(
        (schedule.name, shift.layer or "", shift.person_id, shift.start.astimezone(UTC).isoformat())
    )
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@oncall.kinship"


def _summary(schedule: Schedule, shift: Shift, for_person: bool) -> str:
    where = schedule.name if shift.layer is None else f"{schedule.name} / {shift.layer}"
    who = "On call" if for_person else f"{shift.person_id} on call"
    return f"{who}: {where}" + (" (override)" if shift.override else "")


def _event(schedule: Schedule, shift: Shift, stamp: datetime, for_person: bool) -> Event:
    event = Event()
    event.add("uid", shift_uid(schedule, shift))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start.astimezone(UTC))
    event.add("dtend", shift.end.astimezone(UTC))
    event.add("summary", _summary(schedule, shift, for_person))
    event.add("categories", ["on-call", schedule.name])
    event.add("transp", "TRANSPARENT")  # being on call does not make anyone busy
    return event


def _calendar(name: str, events: list[Event]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    for event in events:
        calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document


def _stamp(generated_at: datetime) -> datetime:
    if generated_at.tzinfo is None:
        raise ValueError(f"generated_at must be an aware datetime, got {generated_at!r}")
    return generated_at.astimezone(UTC)


def schedule_calendar(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    *,
    generated_at: datetime,
    resting: Resting | None = None,
) -> bytes:
    """Every shift of ``schedule`` overlapping ``start``-``end`` as an iCalendar document.

    Shifts are whole (not cut at ``start`` and ``end``); ``generated_at`` is the DTSTAMP.
    """
    stamp = _stamp(generated_at)
    found = shifts(schedule, start, end, resting, whole=True)
    return _calendar(
        f"On call: {schedule.name}", [_event(schedule, shift, stamp, False) for shift in found]
    )


def person_calendar(
    schedules: Sequence[Schedule],
    person_id: str,
    start: datetime,
    end: datetime,
    *,
    generated_at: datetime,
    resting: Resting | None = None,
) -> bytes:
    """``person_id``'s shifts in any of ``schedules`` overlapping ``start``-``end``."""
    stamp = _stamp(generated_at)
    events = [
        (shift.start, _event(schedule, shift, stamp, True))
        for schedule in schedules
        for shift in shifts(schedule, start, end, resting, whole=True)
        if shift.person_id == person_id
    ]
    events.sort(key=lambda pair: pair[0])
    return _calendar(f"On call: {person_id}", [event for _, event in events])
