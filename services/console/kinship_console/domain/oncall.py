"""The on-call pages' pure parts: an override from its form, "away until" from its form,
and the rows of who is on call.

Times in forms are UTC (``datetime-local`` carries no zone; the page says so), as on the
rotation form.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PERSON = re.compile(r"^\S{1,200}$")
MAX_OVERRIDE = timedelta(days=366)
"""The longest override a form accepts (the escalation service's own limit is checked there
again)."""


@dataclass
class OverrideForm:
    """An override's form: values as typed, errors by field (codes), and the parsed fields."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    schedule: str = ""
    person_id: str = ""
    start: datetime | None = None
    end: datetime | None = None

    @property
    def valid(self) -> bool:
        """Whether the form can be sent."""
        return not self.errors


MAX_AWAY = timedelta(days=90)
"""The furthest ahead someone can be away until (the escalation service checks it again)."""


@dataclass
class AwayForm:
    """ "I'm away until": the value as typed, errors by field (codes), and the parsed time."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    until: datetime | None = None

    @property
    def valid(self) -> bool:
        """Whether the form can be sent."""
        return not self.errors


def parse_away(values: Mapping[str, str], now: datetime) -> AwayForm:
    """Away until a time in UTC, in the future and at most 90 days ahead."""
    form = AwayForm({"until": values.get("until", "")})
    form.until = _utc(form.values["until"])
    if form.until is None:
        form.errors["until"] = "away_until"
    elif not now < form.until <= now + MAX_AWAY:
        form.errors["until"] = "away_window"
    return form


def _utc(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_override(values: Mapping[str, str], schedules: Sequence[str]) -> OverrideForm:
    """An override from its form: one of ``schedules``, a person's Kinship id, a start and an
    end in UTC, the end after the start and at most a year later."""
    form = OverrideForm({k: v for k, v in values.items() if k != "csrf_token"})
    form.schedule = form.values.get("schedule", "")
    if form.schedule not in schedules:
        form.errors["schedule"] = "override_schedule"
    form.person_id = form.values.get("person_id", "").strip()
    if not PERSON.match(form.person_id):
        form.errors["person_id"] = "person_id"
    form.start = _utc(form.values.get("start", ""))
    form.end = _utc(form.values.get("end", ""))
    if form.start is None:
        form.errors["start"] = "override_start"
    if form.end is None:
        form.errors["end"] = "override_end"
    elif form.start is not None and not form.start < form.end <= form.start + MAX_OVERRIDE:
        form.errors["end"] = "override_window"
    return form


@dataclass(frozen=True)
class OnCallRow:
    """One schedule as the on-call table shows it."""

    schedule: str
    kind: str
    time_zone: str
    person_id: str | None
    source: str
    until: datetime | None
    next_handoff: datetime | None
    next_on_call: list[str]
    resting: list[str]
    away: list[str] = field(default_factory=list)


def on_call_rows(schedules: Sequence[Any]) -> list[OnCallRow]:
    """The table's rows, schedules before rotations, each by name."""
    ordered = sorted(schedules, key=lambda s: (s.kind != "schedule", s.schedule))
    return [
        OnCallRow(
            schedule=s.schedule,
            kind=s.kind,
            time_zone=s.time_zone,
            person_id=s.on_call.person_id if s.on_call else None,
            source=s.on_call.source if s.on_call else "",
            until=s.on_call.until if s.on_call else None,
            next_handoff=s.next_handoff,
            next_on_call=list(s.next_on_call),
            resting=list(s.resting),
            away=list(getattr(s, "away", [])),
        )
        for s in ordered
    ]


@dataclass(frozen=True)
class Availability:
    """Where the signed-in person stands: on call where and until when, or resting."""

    on_call: list[tuple[str, datetime | None]]
    resting: bool
    next_turns: list[tuple[str, datetime | None]]


def availability(person_id: str, rows: Sequence[OnCallRow]) -> Availability:
    """The person's own on-call state from the table's rows."""
    return Availability(
        on_call=[(r.schedule, r.until) for r in rows if r.person_id == person_id],
        resting=any(person_id in r.resting for r in rows),
        next_turns=[
            (r.schedule, r.next_handoff)
            for r in rows
            if person_id in r.next_on_call and r.person_id != person_id
        ],
    )
