"""Escalation policies, their targets and progression, on-call rotations, the choice of
responder."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

_NAME = r"^[a-z0-9_-]{1,64}$"


class RespondersTarget(BaseModel):
    """Directory peer responders, the least loaded first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["responders"] = "responders"

    def __str__(self) -> str:
        return "responders"


class CoordinatorsTarget(BaseModel):
    """Every active coordinator at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["coordinators"] = "coordinators"

    def __str__(self) -> str:
        return "coordinators"


class RotationTarget(BaseModel):
    """An on-call rotation: the member on call first, then the next."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["rotation"] = "rotation"
    name: str = Field(pattern=_NAME)

    def __str__(self) -> str:
        return f"rotation:{self.name}"


class PersonTarget(BaseModel):
    """One named person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["person"] = "person"
    person_id: str = Field(pattern=r"^\S+$")

    def __str__(self) -> str:
        return f"person:{self.person_id}"


class TargetError(ValueError):
    """A step target in none of the known forms."""

    def __init__(self) -> None:
        super().__init__(
            "a target is 'responders', 'coordinators', 'rotation:<name>' or 'person:<id>' "
            "(or the same as an object with a 'kind')"
        )


def _from_text(value: Any) -> Any:
    """The object form of a target written as text ('rotation:<name>', 'person:<id>', …)."""
    if not isinstance(value, str):
        return value
    kind, separator, rest = value.partition(":")
    if not separator and kind in ("responders", "coordinators"):
        return {"kind": kind}
    if separator and kind == "rotation":
        return {"kind": kind, "name": rest}
    if separator and kind == "person":
        return {"kind": kind, "person_id": rest}
    raise TargetError


Target = Annotated[
    RespondersTarget | CoordinatorsTarget | RotationTarget | PersonTarget,
    Field(discriminator="kind"),
    # Stored policies and API bodies write targets as text; they are read and written so.
    BeforeValidator(_from_text),
    PlainSerializer(str, return_type=str),
]
"""Who a step alerts. Read from the text forms or objects; written as text."""


class PolicyStep(BaseModel):
    """One step of an escalation policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target: Target = Field(
        description="Who a step alerts: 'responders' (directory peer responders, balanced), "
        "'coordinators', 'rotation:<name>' (the on-call member first), or 'person:<id>'."
    )
    timeout_seconds: int = Field(ge=1, le=86_400, description="Wait for acknowledgement.")
    repeat: int = Field(default=1, ge=1, le=5, description="Times this step alerts.")


@dataclass(frozen=True)
class NextAlert:
    """Where escalation goes after a step timed out unacknowledged."""

    step: int
    attempt: int
    fresh_round: bool = False
    """The last step again: everyone may be alerted again (nobody sits on a case)."""


class EscalationPolicy(BaseModel):
    """A list of steps tried in order until someone acknowledges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="default", pattern=_NAME)
    steps: list[PolicyStep] = Field(min_length=1, max_length=10)
    contact_timeout_seconds: int = Field(
        default=3600, ge=1, description="Acknowledged but no first contact: escalate."
    )

    def step(self, number: int) -> PolicyStep:
        """Step ``number`` (from 1; beyond the last, the last)."""
        return self.steps[self.bounded(number) - 1]

    def bounded(self, number: int) -> int:
        """``number``, or the last step's when it is beyond it."""
        return min(number, len(self.steps))

    def is_last(self, number: int) -> bool:
        """Whether no step follows step ``number``."""
        return number >= len(self.steps)

    def after_timeout(self, step: int, attempt: int) -> NextAlert:
        """What to alert when ``(step, attempt)`` timed out: the step again while it has
        repeats left, then the next step; after the last step, the last step again, afresh."""
        if attempt < self.step(step).repeat:
            return NextAlert(step, attempt + 1)
        if not self.is_last(step):
            return NextAlert(step + 1, 1)
        return NextAlert(step, 1, fresh_round=True)

    def without_person(self, person_id: str) -> "EscalationPolicy":
        """The policy with steps naming ``person_id`` (who was erased) alerting the
        coordinators instead: the steps keep their places, and no chain ends with nobody."""
        if not any(step.target == PersonTarget(person_id=person_id) for step in self.steps):
            return self
        steps = [
            step.model_copy(update={"target": CoordinatorsTarget()})
            if step.target == PersonTarget(person_id=person_id)
            else step
            for step in self.steps
        ]
        return self.model_copy(update={"steps": steps})

    def after_failed_delivery(self, step: int) -> int | None:
        """The step to alert at once when every alert of ``step`` failed to be delivered.

        None on the last step: its own timer alerts it again, so a recipient who cannot be
        reached never causes a tight loop of alerts.
        """
        return None if self.is_last(step) else step + 1


def default_policy(ack_timeout_seconds: int, contact_timeout_seconds: int) -> EscalationPolicy:
    """The spec's default: a peer responder, a backup responder, then the coordinators."""
    return EscalationPolicy(
        steps=[
            PolicyStep(target=RespondersTarget(), timeout_seconds=ack_timeout_seconds),
            PolicyStep(target=RespondersTarget(), timeout_seconds=ack_timeout_seconds),
            PolicyStep(target=CoordinatorsTarget(), timeout_seconds=ack_timeout_seconds),
        ],
        contact_timeout_seconds=contact_timeout_seconds,
    )


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
    """How busy a responder is: open cases, and rest owed after a critical case."""

    open_cases: int = 0
    resting_until: datetime | None = None


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
    resting after a critical case, when anyone else is available; the least loaded
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
    return load is not None and load.resting_until is not None and load.resting_until > now
