"""Where a delivery stands (``handlers.status``): for systems, never content or address."""

import pytest

from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.status import SystemsOnlyError, delivery_state
from kinship_runtime.auth import Caller
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, request

SYSTEM = Caller("hr-portal")
ANN = Caller("person", person_id="ann")


async def test_only_systems_see_where_a_delivery_stands() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"))], uow, NOW)
    async with uow:
        state = await delivery_state(SYSTEM, "d-1", uow)
        assert await delivery_state(SYSTEM, "d-unknown", uow) is None
    assert state is not None
    assert (state.id, state.kind, state.status, state.attempts) == (
        "d-1",
        "checkin_reminder",
        "pending",
        0,
    )
    with pytest.raises(SystemsOnlyError):
        async with uow:
            await delivery_state(ANN, "d-1", uow)
