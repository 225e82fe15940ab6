"""On-call schedules as coordinators keep them; who is on call; calendar feeds; on-call load.

Who is on call when is decided by the pure domain (``domain.schedules``); these use cases
load what it needs through the unit of work, audit every change (naming the coordinator),
and keep calendar-feed tokens secret: only a token's SHA-256 is stored, so neither the
database nor a log line ever holds a working feed URL.

A rotation stored before schedules (``/v1/rotations``) is read as the one-layer schedule
``schedule_from_rotation`` makes of it; a schedule of the same name takes its place.
"""

import hashlib
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from kinship_escalation.domain.cases import AuditRecord, NotAllowedError
from kinship_escalation.domain.schedules import (
    FairShareReport,
    OnCallLoad,
    Override,
    Resting,
    Schedule,
    Shift,
    next_handoff,
    on_call_at,
    on_call_load,
    on_call_order,
    person_calendar,
    schedule_calendar,
    schedule_fair_share,
    schedule_from_rotation,
    shifts,
)
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import CalendarFeed, EscalationUnitOfWork, FeedKind

#: A feed shows shifts from this long ago ...
FEED_PAST = timedelta(days=28)
#: ... to this far ahead (calendar clients fetch it again every hour).
FEED_AHEAD = timedelta(days=92)
#: The longest period the load report covers in one request.
LONGEST_LOAD_PERIOD = timedelta(days=366)
_TOKEN_BYTES = 32
_LONGEST_TOKEN = 128


class ScheduleNotFoundError(LookupError):
    """No schedule (nor rotation, where one is read as a schedule) by that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"there is no schedule {name!r}")


class ScheduleInUseError(Exception):
    """A stored escalation policy targets the schedule: change the policy first."""

    def __init__(self, name: str, policies: Sequence[str]) -> None:
        super().__init__(
            f"schedule {name!r} is a target of the escalation policies {list(policies)}: "
            "change or delete those policies first"
        )
        self.policies = list(policies)


class OverrideNotFoundError(LookupError):
    """The schedule has no override with that id."""

    def __init__(self, name: str, override_id: str) -> None:
        super().__init__(f"schedule {name!r} has no override {override_id!r}")


class InvalidScheduleChangeError(ValueError):
    """A change that would make the schedule invalid, or a period that cannot be reported."""


class FeedNotFoundError(LookupError):
    """No working feed for that token (never minted, rotated, revoked, or no longer allowed)."""

    def __init__(self) -> None:
        super().__init__("no such calendar feed")


# ---- schedules ------------------------------------------------------------------------------


def _actor(by: str) -> str:
    return person_actor(by)


async def _audit(uow: EscalationUnitOfWork, action: str, by: str, at: datetime) -> None:
    await uow.cases.audit(AuditRecord(action, _actor(by), (), (), at=at))


async def save_schedule(
    schedule: Schedule, uow: EscalationUnitOfWork, by: str, at: datetime
) -> Schedule:
    """Create or replace a schedule; audited, naming the coordinator ``by``. Everyone it
    names must be active staff (a peer responder or a coordinator): escalation pages only
    them, so a schedule of anyone else (or a typo) would look right and page nobody."""
    await _require_staff(_people_of(schedule), uow)
    await uow.on_call_records.serialise_schedule(schedule.name)
    await uow.on_call.save_schedule(schedule)
    await _audit(uow, "schedule_saved", by, at)
    return schedule


def _people_of(schedule: Schedule) -> set[str]:
    people = {p for layer in schedule.layers for p in layer.participants}
    people |= {o.person_id for o in schedule.overrides}
    return people | {p for swap in schedule.swaps for p in (swap.first, swap.second)}


async def _require_staff(people: set[str], uow: EscalationUnitOfWork) -> None:
    """Refuse (422) people who are not active peer responders or coordinators."""
    staff = {m.person_id for m in await uow.directory.staff() if m.responder or m.coordinator}
    strangers = sorted(people - staff)
    if strangers:
        shown = ", ".join(repr(p) for p in strangers[:5]) + (" …" if len(strangers) > 5 else "")
        raise InvalidScheduleChangeError(
            f"{shown}: not an active peer responder or coordinator in the directory; "
            "escalation pages only them, so check the ids or their roles"
        )


async def list_schedules(uow: EscalationUnitOfWork) -> list[Schedule]:
    """Every stored schedule, by name."""
    return await uow.on_call.schedules()


async def get_schedule(name: str, uow: EscalationUnitOfWork) -> Schedule:
    """A stored schedule."""
    schedule = await uow.on_call.schedule(name)
    if schedule is None:
        raise ScheduleNotFoundError(name)
    return schedule


def _strings_and_objects(value: Any) -> Iterator[Any]:
    """Every value nested in a JSON document (itself included)."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings_and_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_and_objects(item)


def policies_targeting(policies: Sequence[BaseModel], name: str) -> list[str]:
    """The names of the policies with a step targeting schedule ``name``: the old text form
    ``rotation:<name>`` or an object with ``"schedule": name`` (the per-team policies)."""
    found = []
    for policy in policies:
        document = policy.model_dump(mode="json")
        if any(
            value == f"rotation:{name}"
            or (isinstance(value, dict) and value.get("schedule") == name)
            for value in _strings_and_objects(document)
        ):
            found.append(str(document.get("name", "")))
    return found


async def delete_schedule(name: str, uow: EscalationUnitOfWork, by: str, at: datetime) -> None:
    """Remove a schedule, unless a stored policy targets it; audited."""
    await uow.on_call_records.serialise_schedule(name)
    if await uow.on_call.schedule(name) is None:
        raise ScheduleNotFoundError(name)
    using = policies_targeting(await uow.on_call.policies(), name)
    if using:
        raise ScheduleInUseError(name, using)
    await uow.on_call.delete_schedule(name)
    await _audit(uow, "schedule_deleted", by, at)


# ---- overrides --------------------------------------------------------------------------------


def override_id(override: Override) -> str:
    """An override's id: a hash of what it says, so posting the same override twice keeps
    one (and its id never has to be stored)."""
    canonical = json.dumps(override.model_dump(mode="json"), sort_keys=True)
    return "ov-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoredOverride:
    """An override of a schedule, with its id."""

    id: str
    override: Override


def _with_overrides(schedule: Schedule, overrides: Sequence[Override]) -> Schedule:
    try:
        return Schedule.model_validate(
            {**schedule.model_dump(), "overrides": [o.model_dump() for o in overrides]}
        )
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise InvalidScheduleChangeError(str(error)) from error


async def list_overrides(name: str, uow: EscalationUnitOfWork) -> list[StoredOverride]:
    """A schedule's overrides with their ids, in order (where they overlap the last wins)."""
    schedule = await get_schedule(name, uow)
    return [StoredOverride(override_id(o), o) for o in schedule.overrides]


async def add_override(
    name: str, override: Override, uow: EscalationUnitOfWork, by: str, at: datetime
) -> StoredOverride:
    """Add an override at the end of the schedule's list (so it wins where it overlaps
    others); the same override again is kept once. Audited."""
    await _require_staff({override.person_id}, uow)
    await uow.on_call_records.serialise_schedule(name)
    schedule = await get_schedule(name, uow)
    stored = StoredOverride(override_id(override), override)
    if any(override_id(o) == stored.id for o in schedule.overrides):
        return stored
    await uow.on_call.save_schedule(_with_overrides(schedule, [*schedule.overrides, override]))
    await _audit(uow, "schedule_override_added", by, at)
    return stored


async def remove_override(
    name: str, override: str, uow: EscalationUnitOfWork, by: str, at: datetime
) -> None:
    """Remove an override by its id; audited."""
    await uow.on_call_records.serialise_schedule(name)
    schedule = await get_schedule(name, uow)
    kept = [o for o in schedule.overrides if override_id(o) != override]
    if len(kept) == len(schedule.overrides):
        raise OverrideNotFoundError(name, override)
    await uow.on_call.save_schedule(_with_overrides(schedule, kept))
    await _audit(uow, "schedule_override_removed", by, at)


# ---- who is on call ---------------------------------------------------------------------------

ScheduleKind = Literal["schedule", "rotation"]


@dataclass(frozen=True)
class EffectiveSchedule:
    """A schedule as the read APIs use it: a stored schedule, or a rotation read as one."""

    kind: ScheduleKind
    schedule: Schedule

    @property
    def participants(self) -> set[str]:
        """Everyone the schedule can put on call (its layers' participants and overrides)."""
        people = {p for layer in self.schedule.layers for p in layer.participants}
        return people | {o.person_id for o in self.schedule.overrides}


async def effective_schedules(uow: EscalationUnitOfWork) -> list[EffectiveSchedule]:
    """Every schedule, and every rotation no schedule of the same name replaces, by name."""
    stored = {s.name: EffectiveSchedule("schedule", s) for s in await uow.on_call.schedules()}
    for rotation in await uow.on_call.rotations():
        if rotation.name not in stored:
            read = schedule_from_rotation(
                rotation.name, rotation.members, rotation.shift_hours, rotation.starts_at
            )
            stored[rotation.name] = EffectiveSchedule("rotation", read)
    return [stored[name] for name in sorted(stored)]


async def resting_now(uow: EscalationUnitOfWork, now: datetime) -> dict[str, datetime]:
    """The people not alerted at ``now`` (resting after a critical case, or away), each until
    when (the later of the two)."""
    loads = await uow.workload.loads(now)
    return {
        person: until
        for person, load in loads.items()
        if (until := load.unavailable_until) is not None and until > now
    }


async def away_now(uow: EscalationUnitOfWork, now: datetime) -> dict[str, datetime]:
    """The people who said they are away at ``now``, each until when."""
    loads = await uow.workload.loads(now)
    return {
        person: load.away_until
        for person, load in loads.items()
        if load.away_until is not None and load.away_until > now
    }


@dataclass(frozen=True)
class ScheduleNow:
    """Who a schedule has on call at an instant, whom to try after them, and the next
    hand-off; person ids only."""

    kind: ScheduleKind
    schedule: Schedule
    current: Shift | None
    """The responder's shift (whole: its ``end`` is when it ends), None when nobody."""
    order: list[str]
    resting: list[str]
    """Participants resting at the instant (skipped: the next one answers), not away."""
    next_handoff: datetime | None
    next_on_call: list[str]
    away: list[str] = field(default_factory=list)
    """Participants away at the instant (skipped like resting ones)."""


def _current_shift(schedule: Schedule, at: datetime, resting: Resting) -> Shift | None:
    found = shifts(schedule, at, at + timedelta(microseconds=1), resting, whole=True)
    return found[0] if found else None


def schedule_now(
    effective: EffectiveSchedule, at: datetime, resting: Resting, away: Resting | None = None
) -> ScheduleNow:
    """One schedule's answer for ``at``: ``resting`` is everyone not alerted (rest or away)
    until when, ``away`` those of them who said they are away; someone both is listed as
    away only."""
    schedule = effective.schedule
    away = away or {}
    handoff = next_handoff(schedule, at, resting)
    away_people = sorted(p for p in effective.participants if p in away and at < away[p])
    return ScheduleNow(
        kind=effective.kind,
        schedule=schedule,
        current=_current_shift(schedule, at, resting),
        order=on_call_order(schedule, at, resting),
        resting=sorted(
            p
            for p in effective.participants
            if p in resting and at < resting[p] and p not in away_people
        ),
        next_handoff=handoff,
        next_on_call=on_call_at(schedule, handoff, resting) if handoff is not None else [],
        away=away_people,
    )


async def on_call_now(uow: EscalationUnitOfWork, at: datetime, now: datetime) -> list[ScheduleNow]:
    """Every schedule's (and rotation's) answer for ``at``; rest owed and away at ``now``
    apply."""
    resting = await resting_now(uow, now)
    away = await away_now(uow, now)
    return [
        schedule_now(effective, at, resting, away) for effective in await effective_schedules(uow)
    ]


# ---- calendar feeds ---------------------------------------------------------------------------


def token_hash(token: str) -> str:
    """What is stored of a feed's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _participant(effective: EffectiveSchedule, person: str) -> bool:
    return person in effective.participants


async def _effective(name: str, uow: EscalationUnitOfWork) -> EffectiveSchedule | None:
    found = [e for e in await effective_schedules(uow) if e.schedule.name == name]
    return found[0] if found else None


async def mint_feed(
    kind: FeedKind,
    subject: str,
    person: str,
    coordinator: bool,
    uow: EscalationUnitOfWork,
    now: datetime,
) -> str:
    """A new secret token for ``person``'s feed of a schedule or of their own shifts; the
    token they had for it stops working. A person's feed is theirs only; a schedule's is for
    coordinators and the schedule's participants. Audited (never the token)."""
    if kind == "person":
        if subject != person:
            raise NotAllowedError("you may only ask for your own calendar feed")
    else:
        effective = await _effective(subject, uow)
        if effective is None:
            raise ScheduleNotFoundError(subject)
        if not coordinator and not _participant(effective, person):
            raise NotAllowedError(
                f"only coordinators and the participants of {subject!r} may have its feed"
            )
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    await uow.feeds.replace(CalendarFeed(token_hash(token), kind, subject, person, now))
    await _audit(uow, "calendar_feed_issued", person, now)
    return token


async def revoke_feed(
    kind: FeedKind, subject: str, person: str, uow: EscalationUnitOfWork, now: datetime
) -> None:
    """Stop ``person``'s feed of that kind and subject; audited."""
    if not await uow.feeds.revoke(kind, subject, person):
        raise FeedNotFoundError
    await _audit(uow, "calendar_feed_revoked", person, now)


async def feeds_of(person: str, uow: EscalationUnitOfWork) -> list[CalendarFeed]:
    """The feeds a person has (what they are of and since when; never a token)."""
    return await uow.feeds.of_owner(person)


async def render_feed(token: str, uow: EscalationUnitOfWork, now: datetime) -> bytes:
    """The iCalendar document behind a feed token, from ``FEED_PAST`` ago to ``FEED_AHEAD``.

    The feed works while its owner is an active person in the directory and, for a
    schedule's feed, still a coordinator or one of its participants; otherwise, or for a
    token never minted or since replaced, FeedNotFoundError (the same answer for all).
    Shifts are the schedule as planned: rest after a critical case is not in the calendar.
    """
    if not token or len(token) > _LONGEST_TOKEN:
        raise FeedNotFoundError
    feed = await uow.feeds.by_hash(token_hash(token))
    if feed is None:
        raise FeedNotFoundError
    owner = await uow.directory.person(feed.owner)
    if owner is None:
        raise FeedNotFoundError
    start, end = now - FEED_PAST, now + FEED_AHEAD
    if feed.kind == "person":
        every = [effective.schedule for effective in await effective_schedules(uow)]
        return person_calendar(every, feed.owner, start, end, generated_at=now)
    effective = await _effective(feed.subject, uow)
    if effective is None or not (owner.coordinator or _participant(effective, feed.owner)):
        raise FeedNotFoundError
    return schedule_calendar(effective.schedule, start, end, generated_at=now)


# ---- responder wellbeing ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    """On-call load per person and each schedule's fair-share report over a period."""

    start: datetime
    end: datetime
    people: list[OnCallLoad]
    schedules: list[tuple[str, FairShareReport]]


async def load_report(start: datetime, end: datetime, uow: EscalationUnitOfWork) -> LoadReport:
    """Time on call and at night, pages, night pages and cases taken per person, and how
    each schedule's covered time was shared, between ``start`` and ``end``.

    Time on call is the schedules as planned (overrides and swaps included; rest cover is
    not recorded, so not counted); pages are the alerts each person was sent (those that
    failed not counted); cases are those they acknowledged and hold. Nights are 23:00-06:00
    in each person's directory time zone.
    """
    if end <= start:
        raise InvalidScheduleChangeError("'to' must be after 'from'")
    if end - start > LONGEST_LOAD_PERIOD:
        raise InvalidScheduleChangeError(
            f"ask for at most {LONGEST_LOAD_PERIOD.days} days at a time"
        )
    every = await effective_schedules(uow)
    found = [shift for e in every for shift in shifts(e.schedule, start, end)]
    pages = await uow.on_call_records.pages(start, end)
    cases = await uow.on_call_records.cases_taken(start, end)
    people = {shift.person_id for shift in found} | set(pages) | set(cases)
    zones = await uow.on_call_records.time_zones(sorted(people))
    return LoadReport(
        start=start,
        end=end,
        people=on_call_load(found, start, end, time_zones=zones, pages=pages, cases=cases),
        schedules=[(e.schedule.name, schedule_fair_share(e.schedule, start, end)) for e in every],
    )
