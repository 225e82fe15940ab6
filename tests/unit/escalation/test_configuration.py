"""Coordinators' configuration (``handlers.configuration``): rotations and the policy."""

from datetime import UTC, datetime

from kinship_escalation.domain.policies import OnCallRotation
from kinship_escalation.handlers.configuration import (
    policy_in_force,
    rotations,
    save_default_policy,
    save_rotation,
)
from kinship_escalation.handlers.context import EscalationContext
from tests.unit.escalation.conftest import policy
from tests.unit.fakes.escalation import FakeEscalationUnitOfWork

STARTS = datetime(2026, 11, 23, 8, tzinfo=UTC)


async def test_rotations_are_created_replaced_and_listed_by_name(
    uow: FakeEscalationUnitOfWork,
) -> None:
    weekday = OnCallRotation(name="weekday", members=["resp-a"], starts_at=STARTS)
    await save_rotation(weekday, uow)
    await save_rotation(OnCallRotation(name="night", members=["resp-b"], starts_at=STARTS), uow)
    replaced = weekday.model_copy(update={"members": ["resp-a", "resp-b"]})
    assert await save_rotation(replaced, uow) == replaced
    assert [(r.name, r.members) for r in await rotations(uow)] == [
        ("night", ["resp-b"]),
        ("weekday", ["resp-a", "resp-b"]),
    ]


async def test_the_default_policy_is_the_specs_until_one_is_stored_under_that_name(
    uow: FakeEscalationUnitOfWork, ctx: EscalationContext
) -> None:
    assert await policy_in_force(uow, ctx) == ctx.default_policy
    named = policy(("coordinators", 60)).model_copy(update={"name": "other"})
    saved = await save_default_policy(named, uow)
    assert saved.name == "default"
    assert await policy_in_force(uow, ctx) == saved
    assert list(uow.tables.policies) == ["default"]
