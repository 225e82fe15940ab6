"""Where a delivery stands (``handlers.status``): for coordinators, never content or address."""

import pytest

from kinship_contracts.directory import Role
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.status import CoordinatorsOnlyError, delivery_state
from kinship_runtime.access import Actor, Person
from kinship_runtime.identity import Scope, SystemIdentity
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, request

COORDINATOR = Actor(person=Person("cora", frozenset({Role.COORDINATOR})))


async def test_only_coordinators_see_where_a_delivery_stands() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    async with uow:
        state = await delivery_state(COORDINATOR, "d-1", uow)
        assert await delivery_state(COORDINATOR, "d-unknown", uow) is None
    assert state is not None
    assert (state.id, state.kind, state.status, state.attempts) == (
        "d-1",
        "checkin_reminder",
        "pending",
        0,
    )


@pytest.mark.parametrize(
    "actor",
    [
        Actor(person=Person("p-1")),  # the recipient themself
        Actor(person=Person("rob", frozenset({Role.PEER_RESPONDER, Role.TEAM_MANAGER}))),
        Actor(system=SystemIdentity("ops", frozenset(Scope))),
    ],
    ids=["recipient", "responder-manager", "system"],
)
async def test_nobody_else_does(actor: Actor) -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    with pytest.raises(CoordinatorsOnlyError):
        async with uow:
            await delivery_state(actor, "d-1", uow)
