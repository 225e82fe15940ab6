"""Coordinators' configuration: on-call rotations and the escalation policy new cases follow."""

from kinship_escalation.domain.policies import EscalationPolicy, OnCallRotation
from kinship_escalation.handlers.context import EscalationContext
from kinship_escalation.handlers.ports import EscalationUnitOfWork

DEFAULT_POLICY = "default"


async def save_rotation(rotation: OnCallRotation, uow: EscalationUnitOfWork) -> OnCallRotation:
    """Create or replace an on-call rotation."""
    await uow.on_call.save_rotation(rotation)
    return rotation


async def rotations(uow: EscalationUnitOfWork) -> list[OnCallRotation]:
    """Every rotation, by name."""
    return await uow.on_call.rotations()


async def save_default_policy(
    policy: EscalationPolicy, uow: EscalationUnitOfWork
) -> EscalationPolicy:
    """Replace the policy new cases follow (cases opened before keep theirs)."""
    policy = policy.model_copy(update={"name": DEFAULT_POLICY})
    await uow.on_call.save_policy(policy)
    return policy


async def policy_in_force(uow: EscalationUnitOfWork, ctx: EscalationContext) -> EscalationPolicy:
    """The stored default policy, or the spec's default until one is stored."""
    return await uow.on_call.policy(DEFAULT_POLICY) or ctx.default_policy
