"""The notifications subscriptions (``entrypoints.consumers``): what they parse, what they store,
and that queued requests wake the delivery worker."""

import asyncio
import time
from datetime import timedelta

from kinship_contracts.directory import Channels, DirectoryChange
from kinship_contracts.topics import DIRECTORY_PEOPLE, NOTIFICATION_REQUESTS
from kinship_notifications.domain.policy import CircuitBreaker, RetryPolicy
from kinship_notifications.entrypoints.consumers import (
    SUBSCRIPTIONS,
    parse_queued,
    store_directory,
    store_requests,
)
from kinship_notifications.entrypoints.delivery import (
    DeliveryChannels,
    DeliveryConfig,
    DeliveryWorker,
)
from tests.unit.fakes.kafka import FakeRecord
from tests.unit.fakes.notifications import (
    FakeNotificationsUnitOfWork,
    FakeSender,
    FakeTemplates,
    request,
)

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_requests_keep_the_trace_they_came_in_on_and_invalid_ones_are_rejected() -> None:
    valid = FakeRecord(
        request("d-1").model_dump_json().encode(), b"d-1", [("traceparent", TRACE.encode())]
    )
    untraced = FakeRecord(request("d-2").model_dump_json().encode(), b"d-2")
    invalid = FakeRecord(b'{"id": "d-3"}', b"d-3", offset=2)
    accepted, rejected = parse_queued([valid, untraced, invalid])
    assert [(a.event.request.id, a.event.traceparent) for a in accepted] == [
        ("d-1", TRACE),
        ("d-2", None),
    ]
    assert [(r.record.offset, r.reason["code"]) for r in rejected] == [(2, "validation_failed")]


def test_the_directory_is_followed_but_its_dead_letters_are_the_checkin_services() -> None:
    by_topic = {subscription.topic: subscription for subscription in SUBSCRIPTIONS}
    assert by_topic.keys() == {NOTIFICATION_REQUESTS, DIRECTORY_PEOPLE}
    assert by_topic[NOTIFICATION_REQUESTS].owns_dead_letters
    assert not by_topic[DIRECTORY_PEOPLE].owns_dead_letters


async def test_queued_requests_are_stored_once_and_wake_the_worker() -> None:
    uow = FakeNotificationsUnitOfWork()
    uow.add_person("p-1", Channels(webhook="http://127.0.0.1:9/hooks/p-1"))
    sender = FakeSender()
    worker = DeliveryWorker(
        uow.another,
        DeliveryChannels(sender, FakeTemplates(), CircuitBreaker()),
        DeliveryConfig(
            receipts_topic="receipts",
            concurrency=4,
            lease=timedelta(seconds=60),
            poll_seconds=60.0,  # only a wake-up makes it look again within the test
            retry=RetryPolicy(),
            grace_seconds=0.2,
        ),
    )  # on the real clock, like store_requests
    worker.start()
    try:
        await asyncio.sleep(0.05)  # its first round found nothing
        accepted = parse_queued([FakeRecord(request("d-1").model_dump_json().encode())])[0]
        await store_requests([item.event for item in accepted * 2], uow, worker)
        deadline = time.monotonic() + 3
        while not sender.delivered() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert [sent.request.id for sent in sender.delivered()] == ["d-1"]
        assert list(uow.tables.deliveries) == ["d-1"]
    finally:
        await worker.stop()


async def test_directory_changes_are_applied_in_one_unit_of_work() -> None:
    uow = FakeNotificationsUnitOfWork()
    uow.add_person("p-1", Channels(email="p-1@example.org"))
    await store_directory([DirectoryChange("p-1", None)], uow)
    assert uow.tables.people == {}
    assert uow.commits == 1
