"""Coordinators' configuration: on-call rotations and the escalation policies cases follow
(per team and per severity, with a default), and the choice of a case's policy."""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kinship_contracts.cases import Severity
from kinship_escalation.domain.cases import AuditRecord
from kinship_escalation.domain.policies import (
    EscalationPolicy,
    OnCallRotation,
    PeopleTarget,
    ScheduleTarget,
)
from kinship_escalation.domain.schedules.escalation import (
    PolicyConflictError,
    check_policies,
    choose_policy,
)
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork

log = logging.getLogger(__name__)

DEFAULT_POLICY = "default"


def _actor(by: str | None) -> str:
    return person_actor(by) if by is not None else "configuration"


class PolicyNotFoundError(LookupError):
    """No stored policy by that name."""


@dataclass
class PolicyRefusedError(ValueError):
    """A policy that cannot be saved: field errors as the HTTP API reports them
    (``loc``, ``msg``, ``type``), locations from the request body."""

    errors: list[dict[str, Any]]

    def __str__(self) -> str:
        return "; ".join(error["msg"] for error in self.errors)


async def save_rotation(
    rotation: OnCallRotation,
    uow: EscalationUnitOfWork,
    by: str | None = None,
    at: datetime | None = None,
) -> OnCallRotation:
    """Create or replace an on-call rotation; audited, naming ``by`` (the coordinator's
    person id; None: this service's own configuration)."""
    await uow.on_call.save_rotation(rotation)
    await uow.cases.audit(AuditRecord("rotation_saved", _actor(by), (), (), at=at))
    return rotation


async def rotations(uow: EscalationUnitOfWork) -> list[OnCallRotation]:
    """Every rotation, by name."""
    return await uow.on_call.rotations()


async def save_default_policy(
    policy: EscalationPolicy,
    uow: EscalationUnitOfWork,
    by: str | None = None,
    at: datetime | None = None,
) -> EscalationPolicy:
    """Replace the default policy (cases opened before keep theirs); see :func:`save_policy`."""
    return await save_policy(policy.model_copy(update={"name": DEFAULT_POLICY}), uow, by, at)


async def save_policy(
    policy: EscalationPolicy,
    uow: EscalationUnitOfWork,
    by: str | None = None,
    at: datetime | None = None,
) -> EscalationPolicy:
    """Create or replace a policy (cases opened before keep their copy); audited
    (``policy_changed``), naming ``by`` (the coordinator's person id; None: this service's
    own configuration).

    ``PolicyRefusedError`` when the default names a team or severity, another policy names
    neither, or a step targets a schedule or person that does not exist;
    ``PolicyConflictError`` when another stored policy has the same team and severity.
    """
    await _check(policy, uow)
    await uow.on_call.save_policy(policy)
    await uow.cases.audit(AuditRecord("policy_changed", _actor(by), (), (), at=at))
    return policy


async def delete_policy(
    name: str,
    uow: EscalationUnitOfWork,
    by: str | None = None,
    at: datetime | None = None,
) -> None:
    """Remove a stored policy (``PolicyNotFoundError`` when there is none); audited
    (``policy_deleted``). Cases opened with it keep their copy; deleting the default brings
    back the spec's default."""
    if not await uow.on_call.delete_policy(name):
        raise PolicyNotFoundError(f"no policy is called {name!r}")
    await uow.cases.audit(AuditRecord("policy_deleted", _actor(by), (), (), at=at))


async def policies(uow: EscalationUnitOfWork, ctx: EscalationContext) -> list[EscalationPolicy]:
    """Every policy, by name, the default in force among them (stored or the spec's)."""
    stored = await uow.on_call.policies()
    if not any(policy.name == DEFAULT_POLICY for policy in stored):
        stored.append(ctx.default_policy)
    return sorted(stored, key=lambda policy: policy.name)


async def policy_named(
    name: str, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> EscalationPolicy:
    """A stored policy; for ``default``, the default in force. ``PolicyNotFoundError``."""
    if name == DEFAULT_POLICY:
        return await policy_in_force(uow, ctx)
    found = await uow.on_call.policy(name)
    if found is None:
        raise PolicyNotFoundError(f"no policy is called {name!r}")
    return found


async def policy_in_force(uow: EscalationUnitOfWork, ctx: EscalationContext) -> EscalationPolicy:
    """The stored default policy, or the spec's default until one is stored."""
    return await uow.on_call.policy(DEFAULT_POLICY) or ctx.default_policy


async def policy_for(
    team_id: str | None, severity: Severity, uow: EscalationUnitOfWork, ctx: EscalationContext
) -> EscalationPolicy:
    """The policy a case of ``team_id`` at ``severity`` follows: the most specific stored
    one (``choose_policy``), else the default in force. Saving refuses two policies for one
    team and severity; should stored ones clash anyway, the first by name is taken (a case
    must never wait for its alerts) and the clash is logged."""
    stored = await uow.on_call.policies()
    try:
        chosen = choose_policy(stored, team_id=team_id, severity=severity)
    except PolicyConflictError as error:
        log.warning("stored policies %s clash; following the first", error.names)
        chosen = next(policy for policy in stored if policy.name == error.names[0])
    return chosen or ctx.default_policy


async def _check(policy: EscalationPolicy, uow: EscalationUnitOfWork) -> None:
    errors: list[dict[str, Any]] = []
    scoped = policy.team_id is not None or policy.severity is not None
    if policy.name == DEFAULT_POLICY and scoped:
        errors.append(
            _error(
                ["body", "team_id" if policy.team_id is not None else "severity"],
                "the default policy applies to every team and severity: leave team_id and "
                "severity out, or give the policy another name",
            )
        )
    if policy.name != DEFAULT_POLICY and not scoped:
        errors.append(
            _error(
                ["body", "team_id"],
                "a policy other than 'default' names a team, a severity or both (to change "
                "what applies to every case, change the 'default' policy)",
            )
        )
    errors += await _unknown_targets(policy, uow)
    if errors:
        raise PolicyRefusedError(errors)
    others = [p for p in await uow.on_call.policies() if p.name != policy.name]
    check_policies([*others, policy])


async def _unknown_targets(
    policy: EscalationPolicy, uow: EscalationUnitOfWork
) -> list[dict[str, Any]]:
    errors = []
    for s, step in enumerate(policy.steps):
        for t, target in enumerate(step.targets):
            where: list[str | int] = ["body", "steps", s, "targets", t]
            match target:
                case ScheduleTarget(schedule=name):
                    known = await uow.on_call.schedule(name) or await uow.on_call.rotation(name)
                    if known is None:
                        message = f"no schedule is called {name!r}: create it first"
                        errors.append(_error([*where, "schedule"], message))
                case PeopleTarget(people=people):
                    for p, person_id in enumerate(people):
                        if await uow.directory.person(person_id) is None:
                            message = "no active person in the directory has this id"
                            errors.append(_error([*where, "people", p], message))
    return errors


def _error(loc: list[str | int], message: str) -> dict[str, Any]:
    # The message never repeats a person id: only the location says which one.
    return {"loc": loc, "msg": message, "type": "value_error"}
