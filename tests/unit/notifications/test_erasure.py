"""Erasure in the notifications service (``handlers.erasure``): two halves, each once, then
one receipt; another person's data stays."""

import json
from datetime import UTC, datetime

from kinship_contracts.directory import Channels
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.erasure import ErasureConfig, erase_people, erase_subjects
from kinship_runtime.outbox import OutboxMessage
from tests.unit.fakes.notifications import NOW, FakeNotificationsUnitOfWork, request

CONFIG = ErasureConfig("privacy.erasure.receipts")
LATER = datetime(2026, 11, 25, 9, tzinfo=UTC)


def requested(erasure_id: str = "e-1", person_id: str = "ann") -> ErasureRequested:
    return ErasureRequested(id=erasure_id, person_id=person_id, requested_at=NOW, source="hr")


def subjects(erasure_id: str = "e-1", *ids: str) -> SubjectsErased:
    return SubjectsErased(
        id=f"{erasure_id}:subjects", erasure_id=erasure_id, subject_ids=list(ids), occurred_at=NOW
    )


async def world() -> FakeNotificationsUnitOfWork:
    """Ann and Bob: directory entries, preferences, deliveries by id and by subject id, a
    receipt still in the outbox, dead letters."""
    uow = FakeNotificationsUnitOfWork()
    for person in ("ann", "bob"):
        uow.add_person(person, Channels(email=f"{person}@example.org"))
        uow.tables.preferences[person] = Preferences(max_per_day=1)
        uow.add_dead_letter(f"dl-{person}", person)
        uow.add_dead_letter(f"dl-s-{person}", f"s-{person}")
    async with uow:
        await accept_requests(
            [
                QueuedRequest(request("celebration:ann", "celebration", person_id="ann")),
                QueuedRequest(request("reminder:1", person_id="ann")),
                QueuedRequest(request("crisis:1", "crisis_resources", subject_id="s-ann")),
                QueuedRequest(request("celebration:bob", "celebration", person_id="bob")),
                QueuedRequest(request("crisis:2", "crisis_resources", subject_id="s-bob")),
            ],
            uow,
            NOW,
        )
    uow.tables.outbox.append(OutboxMessage("r", "receipts", b"celebration:ann", b"{}"))
    uow.tables.outbox.append(OutboxMessage("r", "receipts", b"crisis:2", b"{}"))
    return uow


async def test_the_person_half_forgets_what_is_kept_by_their_id() -> None:
    uow = await world()
    async with uow:
        await erase_people([requested()], uow, CONFIG, LATER)
    assert set(uow.tables.people) == {"bob"}
    assert set(uow.tables.preferences) == {"bob"}
    assert set(uow.tables.deliveries) == {"crisis:1", "celebration:bob", "crisis:2"}
    assert set(uow.tables.dead_letter_keys) == {"dl-bob", "dl-s-ann", "dl-s-bob"}
    assert [m.key for m in uow.tables.outbox] == [b"crisis:2"]  # ann's unsent receipt went
    assert uow.tables.erasures["e-1"].removed == {
        "directory_people": 1,
        "preferences": 1,
        "deliveries": 2,
        "unsent_receipts": 1,
        "dead_letter_keys": 1,
    }


async def test_the_subjects_half_forgets_deliveries_to_them_and_their_dead_letters() -> None:
    uow = await world()
    async with uow:
        await erase_subjects([subjects("e-1", "s-ann")], uow, CONFIG, LATER)
    assert set(uow.tables.deliveries) == {
        "celebration:ann",
        "reminder:1",
        "celebration:bob",
        "crisis:2",
    }
    assert set(uow.tables.dead_letter_keys) == {"dl-ann", "dl-bob", "dl-s-bob"}
    assert set(uow.tables.people) == {"ann", "bob"}  # the person half's business


async def test_the_receipt_goes_out_once_both_halves_are_done_and_never_again() -> None:
    uow = await world()
    async with uow:
        await erase_subjects([subjects("e-1", "s-ann")], uow, CONFIG, LATER)
    assert not any(m.topic == CONFIG.receipts_topic for m in uow.tables.outbox)
    async with uow:
        await erase_people([requested()], uow, CONFIG, LATER)
    (receipt,) = [m for m in uow.tables.outbox if m.topic == CONFIG.receipts_topic]
    body = json.loads(receipt.value or b"{}")
    assert (body["id"], body["erasure_id"], body["service"]) == (
        "e-1:notifications",
        "e-1",
        "notifications",
    )
    assert body["removed"]["deliveries"] == 2 and body["removed"]["subject_deliveries"] == 1
    assert receipt.value is not None and b"ann" not in receipt.value
    # Replays (Kafka redelivers, an operator re-runs the topic): no effect, no second receipt.
    before = (dict(uow.tables.deliveries), list(uow.tables.outbox))
    async with uow:
        await erase_people([requested(), requested()], uow, CONFIG, LATER)
        await erase_subjects([subjects("e-1", "s-ann")], uow, CONFIG, LATER)
    assert (dict(uow.tables.deliveries), list(uow.tables.outbox)) == before


async def test_a_person_who_never_checked_in_is_erased_with_no_subject_ids() -> None:
    uow = await world()
    async with uow:
        await erase_people([requested("e-2", "bob")], uow, CONFIG, LATER)
        await erase_subjects([subjects("e-2")], uow, CONFIG, LATER)
    assert "bob" not in uow.tables.people
    assert [
        json.loads(m.value or b"{}")["erasure_id"]
        for m in uow.tables.outbox
        if m.topic == CONFIG.receipts_topic
    ] == ["e-2"]
