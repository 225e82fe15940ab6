"""Queuing requests (``handlers.accept``), over the in-memory unit of work."""

from datetime import timedelta

from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.handlers.accept import accept_requests
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, request

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_request_id_seen_before_is_ignored_and_the_first_request_kept() -> None:
    uow = FakeNotificationsUnitOfWork()
    first = QueuedRequest(request("d-1", params={"text": "first"}))
    again = QueuedRequest(request("d-1", params={"text": "again"}))
    async with uow:
        assert await accept_requests([first, again, QueuedRequest(request("d-2"))], uow, NOW) == 2
    async with uow:  # Kafka redelivers the batch
        assert await accept_requests([again], uow, NOW + timedelta(minutes=1)) == 0
    assert sorted(uow.tables.deliveries) == ["d-1", "d-2"]
    assert uow.delivery("d-1").request.params == {"text": "first"}
    assert uow.delivery("d-1").next_attempt_at == NOW


async def test_a_queued_request_is_due_at_once_and_keeps_its_trace() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        await accept_requests([QueuedRequest(request("d-1"), TRACE)], uow, NOW)
    stored = uow.delivery("d-1")
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("pending", 0, NOW)
    assert stored.traceparent == TRACE


async def test_an_empty_batch_queues_nothing() -> None:
    uow = FakeNotificationsUnitOfWork()
    async with uow:
        assert await accept_requests([], uow, NOW) == 0
    assert uow.tables.deliveries == {}
