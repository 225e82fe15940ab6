"""On-call rotations, the people who can be alerted, and the choice of responder; the
escalation policy model is :mod:`kinship_escalation.domain.schedules.escalation` (re-exported
here so that older import paths keep working)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from kinship_escalation.domain.schedules.escalation import (
    CoordinatorsTarget,
    EscalationPolicy,
    EscalationStep,
    NextAlert,
    NotifyMode,
    PeopleTarget,
    RespondersTarget,
    ScheduleTarget,
    Target,
    default_policy,
)

__all__ = [
    "CoordinatorsTarget",
    "EscalationPolicy",
    "EscalationStep",
    "NextAlert",
    "NotifyMode",
    "OnCallRotation",
    "PeopleTarget",
    "Responder",
    "ResponderLoad",
    "RespondersTarget",
    "ScheduleTarget",
    "StaffMember",
    "Target",
    "choose_responder",
    "default_policy",
]

_NAME = r"^[a-z0-9_-]{1,64}$"


class OnCallRotation(BaseModel):
    """Members take turns on call, one shift each, from ``starts_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    members: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=500
    )
    shift_hours: int = Field(default=168, ge=1, le=24 * 31)
    starts_at: AwareDatetime

    def without(self, person_id: str) -> "OnCallRotation | None":
        """The rotation without ``person_id`` (who was erased); None when nobody is left."""
        if person_id not in self.members:
            return self
        members = [member for member in self.members if member != person_id]
        return self.model_copy(update={"members": members}) if members else None

    def order_at(self, now: datetime) -> list[str]:
        """Members in the order to alert at ``now``: the one on call first, then the next."""
        shifts = max(0, int((now - self.starts_at) / timedelta(hours=self.shift_hours)))
        first = shifts % len(self.members)
        return self.members[first:] + self.members[:first]


@dataclass(frozen=True)
class Responder:
    """A person who can be alerted: a peer responder or a coordinator."""

    person_id: str
    team_id: str | None


@dataclass(frozen=True)
class StaffMember:
    """An active directory person, with their programme roles (staff facts by person id:
    this service never knows who a subject is)."""

    person_id: str
    team_id: str
    responder: bool
    coordinator: bool

    def as_responder(self) -> Responder:
        """This person as someone who can be alerted."""
        return Responder(self.person_id, self.team_id)


@dataclass(frozen=True)
class ResponderLoad:
    """How busy a responder is: open cases, rest owed after a critical case, and when they
    said they are away until."""

    open_cases: int = 0
    resting_until: datetime | None = None
    away_until: datetime | None = None

    @property
    def unavailable_until(self) -> datetime | None:
        """Until when this person is not alerted: the later of rest and away (None: never
        was)."""
        ends = [end for end in (self.resting_until, self.away_until) if end is not None]
        return max(ends) if ends else None


def choose_responder(
    candidates: Sequence[Responder],
    *,
    team_id: str | None,
    load: Mapping[str, ResponderLoad],
    already_alerted: set[str],
    now: datetime,
    balance: bool = True,
) -> Responder | None:
    """The responder to alert, or None when nobody suitable is left.

    ``candidates`` are screened already: the person the case is about is not among them
    (the check-in service's vault tells, ``handlers.alerts``). Not a teammate, not someone
    resting after a critical case or away, when anyone else is available; the least loaded
    (``balance``) or the first in rotation order.
    """
    eligible = [c for c in candidates if c.person_id not in already_alerted]
    outside_team = [c for c in eligible if team_id is None or c.team_id != team_id] or eligible
    rested = [c for c in outside_team if not _resting(load.get(c.person_id), now)] or outside_team
    if not rested:
        return None
    if not balance:
        return rested[0]
    order = {candidate.person_id: index for index, candidate in enumerate(candidates)}
    return min(
        rested,
        key=lambda c: (load.get(c.person_id, ResponderLoad()).open_cases, order[c.person_id]),
    )


def _resting(load: ResponderLoad | None, now: datetime) -> bool:
    until = load.unavailable_until if load is not None else None
    return until is not None and until > now
