"""Erasure in the notifications service (``handlers.erasure``): two halves, each once, then
one receipt; another person's data stays."""

import json
from datetime import UTC, datetime, timedelta

from kinship_contracts.directory import Channels
from kinship_contracts.notifications import Alert, NotificationRequest
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_notifications.domain.deliveries import QueuedRequest
from kinship_notifications.domain.policy import Preferences
from kinship_notifications.handlers.accept import accept_requests
from kinship_notifications.handlers.erasure import (
    ErasureConfig,
    erase_people,
    erase_subjects,
    screen_erased,
    unaddressed,
)
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


async def test_requests_to_an_erased_subject_consumed_later_are_skipped_not_stored() -> None:
    uow = await world()
    async with uow:
        await erase_subjects([subjects("e-1", "s-ann")], uow, CONFIG, LATER)
    (digest,) = uow.tables.erased_ids
    assert b"s-ann" not in digest and uow.tables.erased_ids[digest] > LATER
    replayed = [
        QueuedRequest(request("crisis:1", "crisis_resources", subject_id="s-ann")),  # hers again
        QueuedRequest(request("crisis:3", "crisis_resources", subject_id="s-bob")),
        QueuedRequest(request("reminder:2", person_id="ann")),  # by person id: not this record
    ]
    async with uow:
        kept = await screen_erased(replayed, uow, CONFIG, LATER)
        await accept_requests(kept, uow, LATER)
    assert [queued.request.id for queued in kept] == ["crisis:3", "reminder:2"]
    assert "crisis:1" not in uow.tables.deliveries
    assert {"crisis:3", "reminder:2"} <= set(uow.tables.deliveries)


async def test_the_record_expires_and_another_key_does_not_recognise_it() -> None:
    uow = await world()
    async with uow:
        await erase_subjects([subjects("e-1", "s-ann")], uow, CONFIG, LATER)
    hers = [QueuedRequest(request("crisis:1", "crisis_resources", subject_id="s-ann"))]
    async with uow:
        assert await screen_erased(hers, uow, ErasureConfig("receipts"), LATER) == hers
        after = LATER + CONFIG.erased_ids.keep_for
        assert await screen_erased(hers, uow, CONFIG, after - timedelta(seconds=1)) == []
        assert await uow.forget_erased(after, 10) == 1
        assert await screen_erased(hers, uow, CONFIG, LATER) == hers


def page(id_: str, person_id: str) -> NotificationRequest:
    """An alert to ``person_id`` (a responder paged about case k-1)."""
    alert = Alert(
        alert_id=id_,
        case_id="k-1",
        severity="critical",
        step=1,
        reason="Immediate risk",
        opened_at=NOW,
        ack_url="http://127.0.0.1:8002/v1/alerts/a-1/acknowledge",
    )
    return request(f"alert:{id_}", "alert", person_id=person_id, alert=alert, critical=True)


async def test_a_page_to_a_person_produced_before_their_erasure_is_queued_to_nobody() -> None:
    uow = await world()
    async with uow:
        await erase_people([requested()], uow, CONFIG, LATER)
    ((digest, (erased_at, _)),) = uow.tables.erased_people.items()
    assert erased_at == LATER and b"ann" not in digest
    before, after = LATER - timedelta(minutes=1), LATER + timedelta(minutes=1)
    consumed = [
        QueuedRequest(page("a1", "ann"), produced_at=before),
        QueuedRequest(page("a2", "ann"), produced_at=LATER),
        QueuedRequest(page("a3", "ann"), produced_at=after),
        QueuedRequest(page("a4", "ann")),  # no record timestamp
        QueuedRequest(page("a5", "bob"), produced_at=before),
        QueuedRequest(
            request("group:o-1:ann", "group_session_offer", person_id="ann"), produced_at=before
        ),
        QueuedRequest(request("celebration:9", "celebration", person_id="ann"), produced_at=after),
    ]
    async with uow:
        kept = await screen_erased(consumed, uow, CONFIG, after)
        await accept_requests(kept, uow, after)
    # No page is dropped: one to someone gone still fails, and moves its policy on. Other
    # kinds from before the erasure are not stored (a group offer's id names the person).
    assert [q.request.id for q in kept] == [
        "alert:a1",
        "alert:a2",
        "alert:a3",
        "alert:a4",
        "alert:a5",
        "celebration:9",
    ]
    recipients = {q.request.id: q.request.recipient for q in kept}
    assert recipients["alert:a1"] == recipients["alert:a2"] == unaddressed(request()).recipient
    assert recipients["alert:a1"].person_id is None and recipients["alert:a1"].subject_id is None
    assert recipients["alert:a3"].person_id == recipients["alert:a4"].person_id == "ann"
    assert recipients["alert:a5"].person_id == "bob"
    assert recipients["celebration:9"].person_id == "ann"  # produced after: a new one
    stored = uow.tables.deliveries
    assert (stored["alert:a1"].person_id, stored["alert:a1"].subject_id) == (None, None)
    assert "ann" not in stored["alert:a1"].request.model_dump_json()
    assert "group:o-1:ann" not in stored
