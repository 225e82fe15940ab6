"""The notifications subscriptions (``entrypoints.consumers``): only signed requests are
queued, what they parse and store, erasures, and that queued requests wake the worker."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from kinship_contracts.directory import Channels, DirectoryChange
from kinship_contracts.links import REQUEST_SIGNATURE_HEADER, sign_request
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.topics import (
    DIRECTORY_PEOPLE,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    NOTIFICATION_REQUESTS,
)
from kinship_notifications.domain.links import MessageLinks
from kinship_notifications.domain.policy import CircuitBreaker, RetryPolicy
from kinship_notifications.entrypoints.consumers import (
    RequestSignatures,
    request_parser,
    store_directory,
    store_erased_subjects,
    store_erasures,
    store_requests,
    subscriptions,
)
from kinship_notifications.entrypoints.delivery import DeliveryConfig, DeliveryWorker
from kinship_notifications.handlers.deliver import DeliveryTools
from kinship_notifications.handlers.erasure import ErasureConfig
from kinship_runtime.vault import VaultClient
from tests.unit.fakes.kafka import FakeRecord, Timed
from tests.unit.fakes.notifications import (
    FakeNotificationsUnitOfWork,
    FakeSender,
    FakeTemplates,
    FakeVault,
    request,
)

TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
KEY = b"k" * 32
SIGNED = RequestSignatures(KEY)


def signed(
    value: bytes, *headers: tuple[str, bytes], key: bytes = KEY, offset: int = 0
) -> FakeRecord:
    signature = (REQUEST_SIGNATURE_HEADER, sign_request(key, value).encode())
    return FakeRecord(value, b"p-1", [*headers, signature], offset=offset)


def test_signed_requests_keep_the_trace_they_came_in_on_and_invalid_ones_are_rejected() -> None:
    valid = signed(request("d-1").model_dump_json().encode(), ("traceparent", TRACE.encode()))
    untraced = signed(request("d-2").model_dump_json().encode())
    invalid = signed(b'{"id": "d-3"}', offset=2)
    accepted, rejected = request_parser(SIGNED)([valid, untraced, invalid])
    assert [(a.event.request.id, a.event.traceparent) for a in accepted] == [
        ("d-1", TRACE),
        ("d-2", None),
    ]
    assert [(r.record.offset, r.reason["code"]) for r in rejected] == [(2, "validation_failed")]


def test_a_request_keeps_when_its_record_was_produced() -> None:
    produced = datetime(2026, 11, 30, 9, 15, 0, 250000, tzinfo=UTC)
    value = request("d-1").model_dump_json().encode()
    signature = (REQUEST_SIGNATURE_HEADER, sign_request(KEY, value).encode())
    timed = Timed(value, b"p-1", [signature], timestamp=int(produced.timestamp() * 1000))
    untimed = Timed(value, b"p-1", [signature])
    accepted, _ = request_parser(SIGNED)([timed, untimed, signed(value)])
    assert [item.event.produced_at for item in accepted] == [produced, None, None]


def test_unsigned_and_wrongly_signed_requests_are_rejected_as_unsigned_request() -> None:
    value = request("d-1").model_dump_json().encode()
    unsigned = FakeRecord(value, offset=1)
    forged = signed(value, key=b"x" * 32, offset=2)
    tampered = signed(value, offset=3)
    tampered.value = value.replace(b"checkin_reminder", b"crisis_resources")
    garbage = FakeRecord(value, headers=[(REQUEST_SIGNATURE_HEADER, b"sha256=00")], offset=4)
    accepted, rejected = request_parser(SIGNED)([unsigned, forged, tampered, garbage])
    assert accepted == []
    assert [(r.record.offset, r.reason) for r in rejected] == [
        (n, {"code": "unsigned_request", "errors": []}) for n in (1, 2, 3, 4)
    ]


def test_the_transition_setting_admits_unsigned_requests_but_never_a_wrong_signature() -> None:
    value = request("d-1").model_dump_json().encode()
    lenient = RequestSignatures(KEY, accept_unsigned=True)
    accepted, rejected = request_parser(lenient)(
        [
            FakeRecord(value, offset=1),
            signed(value, offset=2),
            signed(value, key=b"x" * 32, offset=3),
        ]
    )
    assert [a.record.offset for a in accepted] == [1, 2]
    assert [(r.record.offset, r.reason["code"]) for r in rejected] == [(3, "unsigned_request")]


def test_subscriptions_and_who_dead_letters_each_topic() -> None:
    by_topic = {subscription.topic: subscription for subscription in subscriptions(SIGNED)}
    assert by_topic.keys() == {
        NOTIFICATION_REQUESTS,
        DIRECTORY_PEOPLE,
        ERASURE_REQUESTED,
        ERASURE_SUBJECTS,
    }
    assert NOTIFICATION_REQUESTS.dead_letter_owner == "notifications"
    for other in (DIRECTORY_PEOPLE, ERASURE_REQUESTED, ERASURE_SUBJECTS):
        assert other.dead_letter_owner != "notifications"  # another consumer's
    unsigned = FakeRecord(request("d-1").model_dump_json().encode())
    _, rejected = by_topic[NOTIFICATION_REQUESTS].parse([unsigned])
    assert [r.reason["code"] for r in rejected] == ["unsigned_request"]


async def test_queued_requests_are_stored_once_and_wake_the_worker() -> None:
    uow = FakeNotificationsUnitOfWork()
    uow.add_person("p-1", Channels(webhook="http://127.0.0.1:9/hooks/p-1"))
    sender = FakeSender()
    worker = DeliveryWorker(
        uow.another,
        DeliveryTools(sender, FakeTemplates(), CircuitBreaker(), FakeVault(), MessageLinks(KEY)),
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
        accepted = request_parser(SIGNED)([signed(request("d-1").model_dump_json().encode())])[0]
        await store_requests(
            [item.event for item in accepted * 2], uow, worker, ErasureConfig("receipts")
        )
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


def _never_asked(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the vault was asked: {request.url}")


@pytest.mark.parametrize("order", ["person first", "subjects first"])
async def test_both_erasure_halves_each_in_one_unit_of_work_then_one_receipt(order: str) -> None:
    uow = FakeNotificationsUnitOfWork()
    uow.add_person("p-1", Channels(email="p-1@example.org"))
    config = ErasureConfig("receipts")
    now = datetime.now(UTC)
    person = ErasureRequested(id="e-1", person_id="p-1", requested_at=now, source="hr")
    subjects = SubjectsErased(
        id="e-1:subjects", erasure_id="e-1", subject_ids=["s-1"], occurred_at=now
    )
    # Subjects in the event (as published before subjects_in_vault): the vault is not asked.
    vault = VaultClient(
        "http://127.0.0.1:9", SecretStr("k"), transport=httpx.MockTransport(_never_asked)
    )
    halves = [
        store_erasures([person], uow, config),
        store_erased_subjects([subjects], uow, config, vault),
    ]
    if order == "subjects first":
        halves.reverse()
    await halves[0]
    assert uow.tables.outbox == []
    await halves[1]
    assert uow.commits == 2
    assert [message.event_id for message in uow.tables.outbox] == ["e-1:notifications"]
    assert uow.tables.people == {}
