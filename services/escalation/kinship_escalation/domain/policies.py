"""On-call rotations, escalation policies and the choice of responder."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Target = Annotated[
    str,
    StringConstraints(pattern=r"^(responders|coordinators|rotation:[a-z0-9_-]{1,64}|person:\S+)$"),
    Field(
        description="Who a step alerts: 'responders' (directory peer responders, balanced), "
        "'coordinators', 'rotation:<name>' (the on-call member first), or 'person:<id>'."
    ),
]


class PolicyStep(BaseModel):
    """One step of an escalation policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Target
    timeout_seconds: int = Field(ge=1, le=86_400, description="Wait for acknowledgement.")
    repeat: int = Field(default=1, ge=1, le=5, description="Times this step alerts.")


class EscalationPolicy(BaseModel):
    """A list of steps tried in order until someone acknowledges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="default", pattern=r"^[a-z0-9_-]{1,64}$")
    steps: list[PolicyStep] = Field(min_length=1, max_length=10)
    contact_timeout_seconds: int = Field(
        default=3600, ge=1, description="Acknowledged but no first contact: escalate."
    )


def default_policy(ack_timeout_seconds: int, contact_timeout_seconds: int) -> EscalationPolicy:
    """The spec's default: a peer responder, a backup responder, then the coordinators."""
    return EscalationPolicy(
        steps=[
            PolicyStep(target="responders", timeout_seconds=ack_timeout_seconds),
            PolicyStep(target="responders", timeout_seconds=ack_timeout_seconds),
            PolicyStep(target="coordinators", timeout_seconds=ack_timeout_seconds),
        ],
        contact_timeout_seconds=contact_timeout_seconds,
    )


class OnCallRotation(BaseModel):
    """Members take turns on call, one shift each, from ``starts_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]{1,64}$")
    members: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=500
    )
    shift_hours: int = Field(default=168, ge=1, le=24 * 31)
    starts_at: AwareDatetime

    def order_at(self, now: datetime) -> list[str]:
        """Members in the order to alert at ``now``: the one on call first, then the next."""
        shifts = max(0, int((now - self.starts_at) / timedelta(hours=self.shift_hours)))
        first = shifts % len(self.members)
        return self.members[first:] + self.members[:first]


@dataclass(frozen=True)
class Responder:
    """A person who can be alerted: a peer responder or a coordinator."""

    person_id: str
    subject_id: str
    team_id: str | None


@dataclass(frozen=True)
class ResponderLoad:
    """How busy a responder is: open cases, and rest owed after a critical case."""

    open_cases: int = 0
    resting_until: datetime | None = None


def choose_responder(
    candidates: Sequence[Responder],
    *,
    subject_id: str,
    team_id: str | None,
    load: Mapping[str, ResponderLoad],
    already_alerted: set[str],
    now: datetime,
    balance: bool = True,
) -> Responder | None:
    """The responder to alert, or None when nobody suitable is left.

    Never the person the case is about; not a teammate, not someone resting after a critical
    case, when anyone else is available; the least loaded (``balance``) or the first in
    rotation order.
    """
    eligible = [
        candidate
        for candidate in candidates
        if candidate.subject_id != subject_id and candidate.person_id not in already_alerted
    ]
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
    return load is not None and load.resting_until is not None and load.resting_until > now
