"""The delivery worker (``entrypoints.delivery``): claims, runs each delivery as its own task,
wakes on new requests, and survives a database that is away (issue 14)."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import asyncpg
import pytest

from kinship_contracts.directory import Channels
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.domain.links import MessageLinks
from kinship_notifications.domain.policy import CircuitBreaker, RetryPolicy
from kinship_notifications.entrypoints.delivery import DeliveryConfig, DeliveryWorker
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.deliver import DeliveryTools
from kinship_runtime.resilience import Backoff
from tests.unit.fakes.notifications import (
    FakeClock,
    FakeNotificationsUnitOfWork,
    FakeSender,
    FakeTemplates,
    FakeVault,
    no_jitter,
    request,
)

HOOK = "http://127.0.0.1:9/hooks/p-1"
DEAD = "http://127.0.0.1:9/hooks/dead"


async def until(predicate: Callable[[], object], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())


class Harness:
    """A worker over the fakes: polls only once a minute, so only wake-ups make it look."""

    def __init__(self, concurrency: int = 8, lease_seconds: float = 60.0) -> None:
        self.uow = FakeNotificationsUnitOfWork()
        self.uow.add_person("p-1", Channels(webhook=HOOK))
        self.uow.add_person("p-dead", Channels(webhook=DEAD))
        self.sender = FakeSender()
        self.clock = FakeClock()
        self.finished = 0
        self.worker = DeliveryWorker(
            self.uow.another,
            DeliveryTools(
                self.sender, FakeTemplates(), CircuitBreaker(), FakeVault(), MessageLinks(b"l" * 32)
            ),
            DeliveryConfig(
                receipts_topic="receipts",
                concurrency=concurrency,
                lease=timedelta(seconds=lease_seconds),
                poll_seconds=60.0,
                retry=RetryPolicy(),
                grace_seconds=0.2,
            ),
            after_finish=self._finished,
            clock=self.clock,
            jitter=no_jitter,
            backoff=Backoff(first=0.02, cap=0.05),
        )

    def _finished(self) -> None:
        self.finished += 1

    async def queue(self, *ids: str, person_id: str = "p-1") -> None:
        uow = self.uow.another()
        async with uow:
            queued = [QueuedRequest(request(id_, person_id=person_id)) for id_ in ids]
            await accept_requests(queued, uow, self.clock())
        self.worker.wake()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    harness = Harness()
    yield harness
    harness.sender.release()
    await harness.worker.stop()


async def test_a_round_failing_with_cannot_connect_now_does_not_end_the_worker(
    harness: Harness,
) -> None:
    # PostgreSQL restarting answers "the database system is starting up" (issue 14).
    harness.uow.claim_errors.append(
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    )
    await harness.queue("d-1")
    harness.worker.start()
    assert await until(lambda: harness.sender.delivered(HOOK))
    assert not harness.uow.claim_errors, "the failing round ran"
    assert harness.worker.healthy()
    assert harness.uow.delivery("d-1").status == "delivered"
    assert harness.finished == 1  # the receipt woke the relay


async def test_other_errors_in_a_round_do_not_end_the_worker_either(harness: Harness) -> None:
    harness.uow.claim_errors += [RuntimeError("a bug"), ConnectionResetError()]
    await harness.queue("d-1")
    harness.worker.start()
    assert await until(lambda: harness.sender.delivered(HOOK))
    assert harness.worker.healthy()


async def test_new_requests_wake_the_worker_before_its_next_poll(harness: Harness) -> None:
    harness.worker.start()
    await asyncio.sleep(0.05)  # the first round found nothing; the next poll is a minute away
    await harness.queue("d-1", "d-2")
    assert await until(lambda: len(harness.sender.delivered(HOOK)) == 2)


async def test_a_hanging_endpoint_does_not_hold_up_another_recipient(harness: Harness) -> None:
    harness.sender.hang(DEAD)
    harness.worker.start()
    await harness.queue(*[f"dead-{n}" for n in range(5)], person_id="p-dead")
    assert await until(lambda: harness.worker.in_flight == 5)
    await harness.queue("live")
    assert await until(lambda: harness.sender.delivered(HOOK))
    assert harness.worker.in_flight == 5


async def test_stopping_ends_deliveries_still_in_flight_after_the_grace_period() -> None:
    harness = Harness()
    harness.sender.hang(DEAD)
    harness.worker.start()
    await harness.queue("d-1", person_id="p-dead")
    assert await until(lambda: harness.worker.in_flight == 1)
    started = time.monotonic()
    await harness.worker.stop()
    assert time.monotonic() - started < 2
    assert harness.worker.in_flight == 0
    assert not harness.worker.healthy()
    stored = harness.uow.delivery("d-1")
    assert (stored.status, stored.attempts) == ("pending", 0)  # its lease brings it back
    assert stored.lease_until is not None


async def test_a_delivery_that_outlives_its_lease_is_stopped_and_frees_its_slot() -> None:
    harness = Harness(concurrency=1, lease_seconds=0.1)
    harness.sender.hang(DEAD)
    harness.worker.start()
    await harness.queue("d-1", person_id="p-dead")
    assert await until(lambda: harness.sender.calls)
    assert await until(lambda: harness.worker.in_flight == 0)
    assert harness.worker.healthy()
    harness.sender.release()
    await harness.worker.stop()
