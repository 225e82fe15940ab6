"""Coordinators' configuration: on-call rotations and the escalation policy new cases follow."""

from datetime import datetime

from kinship_escalation.domain.cases import AuditRecord
from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.messages import person_actor
from kinship_escalation.handlers.ports import EscalationUnitOfWork

DEFAULT_POLICY = "default"


def _actor(by: str | None) -> str:
    return person_actor(by) if by is not None else "configuration"


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
    """Replace the policy new cases follow (cases opened before keep theirs); audited,
    naming ``by`` (the coordinator's person id; None: this service's own configuration)."""
    policy = policy.model_copy(update={"name": DEFAULT_POLICY})
    await uow.on_call.save_policy(policy)
    await uow.cases.audit(AuditRecord("policy_changed", _actor(by), (), (), at=at))
    return policy


async def policy_in_force(uow: EscalationUnitOfWork, ctx: EscalationContext) -> EscalationPolicy:
    """The stored default policy, or the spec's default until one is stored."""
    return await uow.on_call.policy(DEFAULT_POLICY) or ctx.default_policy
