"""Escalation policies per team and per severity: steps, targets, progression, choice.

This is the one policy model of the escalation service (``domain.policies`` re-exports it):
cases are opened with the policy :func:`choose_policy` finds, and keep a copy of it.

A policy is a list of steps tried in order until someone acknowledges. Each step alerts its
targets (schedules, people, the directory's peer responders, or the coordinators), all at
once or one at a time in turn, waits ``timeout_seconds`` and repeats up to ``repeat`` times.

**No policy ends with nobody.** A policy whose last step does not target the coordinators
gets a coordinators step appended when it is validated (same timeout as the last step, one
repeat), so a stored policy always shows the step that will really run last; when every step
is spent the last step, the coordinators, is alerted again on every timeout
(:class:`Exhausted`). Appending rather than refusing keeps the spec's rule ("coordinators
keep being paged until someone acknowledges") true for every policy, old stored ones included.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from kinship_contracts.cases import Severity
from kinship_escalation.domain.schedules.model import Name, PersonId

MAX_STEPS = 10
"""Steps a policy may have, besides the coordinators step that ends every policy."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScheduleTarget(_Frozen):
    """Whoever a schedule has on call (then the rest of that layer, in order)."""

    kind: Literal["schedule"] = "schedule"
    schedule: Name


class PeopleTarget(_Frozen):
    """Named people."""

    kind: Literal["people"] = "people"
    people: tuple[PersonId, ...] = Field(min_length=1, max_length=50)

    @field_validator("people")
    @classmethod
    def _distinct(cls, people: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(people)) != len(people):
            raise ValueError("a person is listed twice in a people target")
        return people


class RespondersTarget(_Frozen):
    """The directory's active peer responders, least loaded first (the spec's default)."""

    kind: Literal["responders"] = "responders"


class CoordinatorsTarget(_Frozen):
    """Every active programme coordinator: the last resort of every policy."""

    kind: Literal["coordinators"] = "coordinators"


def parse_target(text: str) -> "Target":
    """A target from the string form policies were stored in before: ``'responders'``,
    ``'coordinators'``, ``'rotation:<name>'`` (now a schedule) or ``'person:<id>'``."""
    if text == "responders":
        return RespondersTarget()
    if text == "coordinators":
        return CoordinatorsTarget()
    if text.startswith("rotation:"):
        return ScheduleTarget(schedule=text.removeprefix("rotation:"))
    if text.startswith("person:"):
        return PeopleTarget(people=(text.removeprefix("person:"),))
    raise ValueError(
        f"unknown target {text!r}: use 'responders', 'coordinators', 'rotation:<name>', "
        "'person:<id>' or an object with a 'kind'"
    )


def _from_string(value: Any) -> Any:
    return parse_target(value) if isinstance(value, str) else value


Target = Annotated[
    ScheduleTarget | PeopleTarget | RespondersTarget | CoordinatorsTarget,
    Field(discriminator="kind"),
    BeforeValidator(_from_string),
]


class NotifyMode(StrEnum):
    """How a step alerts the people its targets resolve to."""

    ALL = "all"  # everyone at once
    ROUND_ROBIN = "round_robin"  # one person per alert, the next one each time


class EscalationStep(_Frozen):
    """One step: whom to alert, how, how long to wait, how often to repeat."""

    targets: tuple[Target, ...] = Field(min_length=1, max_length=10)
    notify: NotifyMode = NotifyMode.ALL
    timeout_seconds: int = Field(ge=1, le=86_400, description="Wait for acknowledgement.")
    repeat: int = Field(default=1, ge=1, le=5, description="Times this step alerts.")

    @model_validator(mode="before")
    @classmethod
    def _old_form(cls, data: Any) -> Any:
        # Policies stored before schedules had one string ``target`` per step.
        if isinstance(data, dict) and "target" in data and "targets" not in data:
            rest = {key: value for key, value in data.items() if key != "target"}
            return {**rest, "targets": [data["target"]]}
        return data

    @property
    def reaches_coordinators(self) -> bool:
        """Whether this step alerts the coordinators."""
        return any(isinstance(target, CoordinatorsTarget) for target in self.targets)

    def names(self, person_id: str) -> bool:
        """Whether a people target of this step lists ``person_id``."""
        return any(
            isinstance(target, PeopleTarget) and person_id in target.people
            for target in self.targets
        )

    def without_person(self, person_id: str) -> "EscalationStep":
        """The step with ``person_id`` (who was erased) dropped from its people targets; a
        people target left empty goes, and a step left with no target alerts the
        coordinators (it keeps its place, timeout, repeats and mode)."""
        if not self.names(person_id):
            return self
        targets: list[Target] = []
        for target in self.targets:
            if isinstance(target, PeopleTarget):
                people = tuple(p for p in target.people if p != person_id)
                if people:
                    targets.append(PeopleTarget(people=people))
            else:
                targets.append(target)
        return self.model_copy(update={"targets": tuple(targets) or (CoordinatorsTarget(),)})


@dataclass(frozen=True)
class NextAlert:
    """Where escalation goes after a step timed out unacknowledged."""

    step: int
    attempt: int
    unanswered: bool = False
    """Every step and repeat was spent: coordinators are paged on an "unanswered" alert, and
    reminded every ``unanswered_interval_seconds`` until someone acknowledges."""


class EscalationPolicy(_Frozen):
    """Steps tried in order until someone acknowledges, for a team and/or a severity.

    Neither ``team_id`` nor ``severity``: the default policy. See :func:`choose_policy`.
    """

    name: str = Field(default="default", pattern=r"^[a-z0-9_-]{1,64}$")
    team_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="Cases of this team only."
    )
    severity: Severity | None = Field(default=None, description="Cases of this severity only.")
    steps: tuple[EscalationStep, ...] = Field(min_length=1)
    contact_timeout_seconds: int = Field(
        default=3600, ge=1, description="Acknowledged but no first contact: escalate."
    )
    urgent_from: Literal[Severity.HIGH, Severity.CRITICAL] = Field(
        default=Severity.HIGH,
        description="Alerts of cases this severe or worse skip the responders' quiet hours "
        "('high' or 'critical'; critical alerts always do).",
    )
    unanswered_interval_seconds: int = Field(
        default=900,
        ge=1,
        le=86_400,
        description="After every step was spent unacknowledged, coordinators are reminded at "
        "this interval until someone acknowledges.",
    )

    @field_validator("steps")
    @classmethod
    def _ends_with_coordinators(
        cls, steps: tuple[EscalationStep, ...]
    ) -> tuple[EscalationStep, ...]:
        if not steps[-1].reaches_coordinators:
            last = EscalationStep(
                targets=(CoordinatorsTarget(),), timeout_seconds=steps[-1].timeout_seconds
            )
            steps = (*steps, last)
        if len(steps) > MAX_STEPS + 1:
            raise ValueError(
                f"a policy has at most {MAX_STEPS} steps besides the coordinators step that "
                f"ends every policy; this one has {len(steps) - 1}"
            )
        return steps

    def step(self, number: int) -> EscalationStep:
        """Step ``number`` (from 1; beyond the last, the last)."""
        return self.steps[self.bounded(number) - 1]

    def bounded(self, number: int) -> int:
        """``number`` (at least 1), or the last step's when it is beyond it."""
        return max(1, min(number, len(self.steps)))

    def is_last(self, number: int) -> bool:
        """Whether no step follows step ``number``."""
        return number >= len(self.steps)

    def after_timeout(self, step: int, attempt: int) -> NextAlert:
        """What to alert when ``(step, attempt)`` timed out (:func:`next_step`, tolerant of
        a step beyond the last or an attempt beyond its repeats, which a rise to critical
        can cause): the step again, the next step, or the case is unanswered."""
        step = self.bounded(step)
        attempt = max(1, min(attempt, self.step(step).repeat))
        match next_step(self, step, attempt):
            case StepAttempt(step=following, attempt=again):
                return NextAlert(following, again)
            case Exhausted(last_step=last):
                return NextAlert(last, attempt, unanswered=True)

    def after_failed_delivery(self, step: int) -> int | None:
        """The step to alert at once when every alert of ``step`` failed to be delivered.

        None on the last step: its own timer alerts it again, so a recipient who cannot be
        reached never causes a tight loop of alerts.
        """
        return self.after_empty_step(step)

    def after_empty_step(self, step: int) -> int | None:
        """The step to alert when ``step`` has nobody to alert (everyone resting, away or
        erased); None on the last step, which has no step after it."""
        return None if self.is_last(step) else step + 1

    def escalated(self, step: int) -> int:
        """The step after ``step`` when its responder failed the case (no first contact in
        time, or erased): the next step, or the last one again."""
        return self.bounded(step + 1)

    def again(self, step: int, attempt: int) -> NextAlert:
        """The same step alerted once more, at once (a rise to critical, or a hand-over to a
        named responder); it may go beyond the step's repeats, which ``after_timeout``
        tolerates."""
        return NextAlert(self.bounded(step), attempt + 1)

    def urgent(self, severity: Severity) -> bool:
        """Whether alerts of a case this severe skip the responders' quiet hours."""
        return severity.rank >= Severity(self.urgent_from).rank

    def names(self, person_id: str) -> bool:
        """Whether a step lists ``person_id`` by name."""
        return any(step.names(person_id) for step in self.steps)

    def without_person(self, person_id: str) -> "EscalationPolicy":
        """The policy without ``person_id`` (who was erased): dropped from every people
        target, a step left with no target alerting the coordinators (steps keep their
        places, so no chain ends with nobody)."""
        if not self.names(person_id):
            return self
        steps = tuple(step.without_person(person_id) for step in self.steps)
        return self.model_copy(update={"steps": steps})

    def schedules(self) -> list[str]:
        """The schedules the steps target, each once, in order."""
        found = (t.schedule for s in self.steps for t in s.targets if isinstance(t, ScheduleTarget))
        return list(dict.fromkeys(found))

    def people(self) -> list[str]:
        """The people the steps name, each once, in order."""
        targets = (t for s in self.steps for t in s.targets if isinstance(t, PeopleTarget))
        found = (person for target in targets for person in target.people)
        return list(dict.fromkeys(found))


def default_policy(ack_timeout_seconds: int, contact_timeout_seconds: int) -> EscalationPolicy:
    """The spec's default: a peer responder, a backup responder, then the coordinators."""
    responders = EscalationStep(targets=(RespondersTarget(),), timeout_seconds=ack_timeout_seconds)
    return EscalationPolicy(
        steps=(
            responders,
            responders,
            EscalationStep(targets=(CoordinatorsTarget(),), timeout_seconds=ack_timeout_seconds),
        ),
        contact_timeout_seconds=contact_timeout_seconds,
    )


class PolicyConflictError(ValueError):
    """Two policies claim the same team and severity; ``names`` says which."""

    def __init__(self, team_id: str | None, severity: Severity | None, names: list[str]) -> None:
        scope = f"team {team_id!r}" if team_id else "every team"
        level = f"severity {severity.value}" if severity else "every severity"
        super().__init__(
            f"policies {names} all apply to {scope} at {level}: keep one, or narrow the others"
        )
        self.team_id = team_id
        self.severity = severity
        self.names = names


def check_policies(policies: Iterable[EscalationPolicy]) -> None:
    """Refuse a set of policies with a repeated name or two for the same (team, severity)."""
    by_scope: dict[tuple[str | None, Severity | None], list[str]] = {}
    names: set[str] = set()
    for policy in policies:
        if policy.name in names:
            raise ValueError(f"two policies are called {policy.name!r}: names must be distinct")
        names.add(policy.name)
        by_scope.setdefault((policy.team_id, policy.severity), []).append(policy.name)
    for (team_id, severity), claimed in by_scope.items():
        if len(claimed) > 1:
            raise PolicyConflictError(team_id, severity, sorted(claimed))


def choose_policy(
    policies: Iterable[EscalationPolicy], *, team_id: str | None, severity: Severity
) -> EscalationPolicy | None:
    """The policy for a case: the most specific that applies.

    Team and severity, then team, then severity, then the default (neither). None when no
    policy applies (use :func:`default_policy`); :class:`PolicyConflictError` when two
    policies tie at the most specific level.
    """

    def rank(policy: EscalationPolicy) -> int | None:
        if policy.team_id is not None and policy.team_id != team_id:
            return None
        if policy.severity is not None and policy.severity is not severity:
            return None
        return (0 if policy.team_id else 2) + (0 if policy.severity else 1)

    ranked = [(r, policy) for policy in policies if (r := rank(policy)) is not None]
    if not ranked:
        return None
    best = min(r for r, _ in ranked)
    winners = [policy for r, policy in ranked if r == best]
    if len(winners) > 1:
        raise PolicyConflictError(
            winners[0].team_id, winners[0].severity, sorted(p.name for p in winners)
        )
    return winners[0]


class StepAttempt(NamedTuple):
    """A position in a policy: the 1-based step and the 1-based attempt at it."""

    step: int
    attempt: int


@dataclass(frozen=True)
class Exhausted:
    """Every step and repeat is spent: keep alerting ``last_step`` (the coordinators)."""

    last_step: int


def next_step(policy: EscalationPolicy, step: int, attempt: int) -> StepAttempt | Exhausted:
    """Where to go when ``(step, attempt)`` times out unacknowledged.

    The same step again while it has repeats left, then the next step's first attempt; after
    the last step's last repeat, :class:`Exhausted`.
    """
    if not 1 <= step <= len(policy.steps):
        raise ValueError(f"step {step} is outside the policy's steps 1-{len(policy.steps)}")
    repeat = policy.steps[step - 1].repeat
    if not 1 <= attempt <= repeat:
        raise ValueError(f"attempt {attempt} is outside step {step}'s attempts 1-{repeat}")
    if attempt < repeat:
        return StepAttempt(step, attempt + 1)
    if step < len(policy.steps):
        return StepAttempt(step + 1, 1)
    return Exhausted(last_step=len(policy.steps))


def pick_recipients(step: EscalationStep, candidates: Sequence[str], *, turn: int) -> list[str]:
    """Whom a step alerts, from the people its targets resolved to (in order).

    ``all``: every candidate, each once. ``round_robin``: one, the ``turn``-th in order
    (wrapping): pass ``attempt - 1`` to alert the next person on each repeat, or a counter kept
    per step to spread alerts over cases as PagerDuty's round robin does.
    """
    unique = list(dict.fromkeys(candidates))
    if not unique:
        return []
    if step.notify is NotifyMode.ALL:
        return unique
    return [unique[turn % len(unique)]]
