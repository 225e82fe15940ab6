"""Erasure in the check-in service: forget the person, tell the others, follow receipts."""

import json
from datetime import UTC, datetime, timedelta

from kinship_checkin.domain.people import Contact
from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.handlers.erasure import (
    SUBJECTS_KEPT,
    ErasureTopics,
    erase_people,
    erasure_status,
    recent_erasures,
    record_receipts,
    request_erasure,
    requester,
    subjects_of_erasure,
)
from kinship_checkin.handlers.recording import RecordingTopics, record_checkins
from kinship_contracts.directory import Role
from kinship_contracts.privacy import ErasureReceipt, ErasureRequested
from kinship_runtime.access import Actor, Person
from kinship_runtime.identity import Scope, SystemIdentity
from tests.unit.fakes.checkin import ERASED_PEOPLE, FakeCheckinUnitOfWork, submitted

NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
TOPICS = ErasureTopics("requested", "subjects", "receipts", "directory", "outreach")


async def people_with_checkins() -> FakeCheckinUnitOfWork:
    uow = FakeCheckinUnitOfWork(teams={"ann": "t-1", "bob": "t-1"})
    uow.contacts["ann"] = Contact("Ann", {"email": "ann@example.test"})
    async with uow:
        await record_checkins(
            [
                submitted("c-1", person="ann", note="ann's note"),
                submitted("c-2", person="bob", note="bob's note"),
            ],
            uow,
            NOTES,
            RecordingTopics("recorded"),
            NOW,
        )
        await uow.audit("reveal", "person:ann", subject_id=uow.vault["bob"], case_id="k")
        await uow.audit("reveal", "person:resp", subject_id=uow.vault["ann"], case_id="k")
    uow.outbox.clear()
    return uow


def request(erasure_id: str = "er-1", person: str = "ann") -> ErasureRequested:
    return ErasureRequested(id=erasure_id, person_id=person, requested_at=NOW, source="hr")


async def test_erasure_forgets_the_person_and_leaves_others_intact() -> None:
    uow = await people_with_checkins()
    ann, bob = uow.vault["ann"], uow.vault["bob"]
    async with uow:
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
    assert "ann" not in uow.vault and ann not in uow.keys
    assert list(uow.checkins) == ["c-2"] and bob in uow.keys
    assert "ann" not in uow.teams and "ann" not in uow.contacts
    assert [(a.actor, a.subject_id) for a in uow.audits] == [("person:erased", bob)]


async def test_erasure_announces_the_subjects_tombstones_the_directory_and_sends_a_receipt() -> (
    None
):
    uow = await people_with_checkins()
    ann = uow.vault["ann"]
    async with uow:
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
    subjects, outreach, tombstone, receipt = uow.outbox
    # The tombstone is keyed by the subject id alone: no header or value names the erasure.
    assert (outreach.topic, outreach.key, outreach.value, outreach.headers) == (
        "outreach",
        ann.encode(),
        None,
        [],
    )
    # The subjects event names the erasure, never the subject ids (nor the person): those
    # are kept here for the other services until the erasure completes.
    assert (subjects.topic, subjects.key) == ("subjects", b"er-1")
    announced = json.loads(subjects.value or b"")
    assert (announced["subject_ids"], announced["subjects_in_vault"]) == ([], True)
    assert ann.encode() not in (subjects.value or b"") and b"ann" not in (subjects.value or b"")
    assert not [h for h in subjects.headers if ann.encode() in h[1]]
    assert uow.held_subjects == {"er-1": ([ann], NOW + SUBJECTS_KEPT)}
    assert (tombstone.topic, tombstone.key, tombstone.value) == ("directory", b"ann", None)
    body = json.loads(receipt.value or b"")
    assert (receipt.topic, body["service"], body["erasure_id"]) == ("receipts", "checkin", "er-1")
    assert body["removed"]["checkins"] == 1 and body["removed"]["data_keys"] == 1
    assert "ann" not in json.dumps(body)


async def test_the_same_erasure_twice_has_one_effect_and_a_person_never_seen_is_fine() -> None:
    uow = await people_with_checkins()
    async with uow:
        await erase_people([request(), request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
        await erase_people([request("er-2", "nobody")], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
    kinds = [m.topic for m in uow.outbox]
    assert kinds == [
        "subjects",
        "outreach",
        "directory",
        "receipts",
        "subjects",
        "directory",
        "receipts",
    ]
    assert json.loads(uow.outbox[4].value or b"")["subject_ids"] == []


async def test_an_erasure_asked_here_is_published_and_followed_to_completion() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        erasure_id = await request_erasure(
            "ann", "the person", "kinship", uow, TOPICS, NOW, lambda: "er-9"
        )
    (published,) = uow.outbox
    assert (erasure_id, published.topic, published.key) == ("er-9", "requested", b"ann")
    async with uow:
        status = await erasure_status("er-9", uow)
        assert status is not None and not status.complete and status.requested_by == "the person"
        await record_receipts(
            [
                ErasureReceipt(id=f"er-9:{s}", erasure_id="er-9", service=s, completed_at=NOW)
                for s in ("checkin", "escalation", "notifications", "recognition")
            ],
            uow,
            NOW,
        )
        status = await erasure_status("er-9", uow)
        assert status is not None and status.complete
        assert [s.erasure_id for s in await recent_erasures(uow)] == ["er-9"]
        assert await erasure_status("er-unknown", uow) is None


async def test_the_erasure_record_never_names_the_person() -> None:
    uow = FakeCheckinUnitOfWork()
    async with uow:
        await request_erasure(
            "ann", "the person", "kinship", uow, TOPICS, NOW + timedelta(1), lambda: "er-1"
        )
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
    assert "ann" not in repr(uow.erasure_records)


def receipt(service: str, erasure_id: str = "er-1") -> ErasureReceipt:
    return ErasureReceipt(
        id=f"{erasure_id}:{service}", erasure_id=erasure_id, service=service, completed_at=NOW
    )


async def test_the_subjects_are_served_while_the_erasure_is_open_and_forgotten_when_complete() -> (
    None
):
    uow = await people_with_checkins()
    ann = uow.vault["ann"]
    async with uow:
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
        assert await subjects_of_erasure("er-1", "system:escalation", uow, NOW) == [ann]
        await record_receipts([receipt("checkin"), receipt("escalation")], uow, NOW)
        await record_receipts([receipt("recognition")], uow, NOW)
        # Still open: notifications has not answered.
        assert await subjects_of_erasure("er-1", "system:notifications", uow, NOW) == [ann]
        await record_receipts([receipt("notifications")], uow, NOW)
        assert await subjects_of_erasure("er-1", "system:recognition", uow, NOW) is None
        assert await subjects_of_erasure("er-unknown", "system:recognition", uow, NOW) is None
        # Replaying the request changes nothing: the ids are not held again.
        await erase_people([request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE)
    assert uow.held_subjects == {}
    # Each ask is audited: who asked and how many, never an id beside the erasure.
    asked = [
        (a.actor, a.subject_id, a.detail) for a in uow.audits if a.action == "erasure_subjects"
    ]
    assert asked == [
        ("system:escalation", None, {"erasure_id": "er-1", "count": 1}),
        ("system:notifications", None, {"erasure_id": "er-1", "count": 1}),
        ("system:recognition", None, {"erasure_id": "er-1", "count": None}),
        ("system:recognition", None, {"erasure_id": "er-unknown", "count": None}),
    ]


async def test_the_subjects_of_an_erasure_past_its_deadline_are_forgotten() -> None:
    uow = await people_with_checkins()
    bob = uow.vault["bob"]
    async with uow:
        await erase_people(
            [request()], uow, TOPICS, NOW, erased=ERASED_PEOPLE, keep_subjects=timedelta(days=2)
        )
        await erase_people(
            [request("er-2", "bob")], uow, TOPICS, NOW + timedelta(days=1), erased=ERASED_PEOPLE
        )
        later = NOW + timedelta(days=2)
        assert await subjects_of_erasure("er-1", "system:escalation", uow, later) is None
        # The other erasure, still within its own deadline, is served.
        assert await subjects_of_erasure("er-2", "system:escalation", uow, later) == [bob]
    # The expired one is gone from the store, not only refused.
    assert list(uow.held_subjects) == ["er-2"]
    async with uow:
        await record_receipts([], uow, NOW + timedelta(days=9))
    assert uow.held_subjects == {}


def test_an_erasure_names_who_asked_without_naming_a_coordinator() -> None:
    hr = Actor(system=SystemIdentity("hr-portal", frozenset({Scope.ERASURE_REQUEST})))
    coordinator = Actor(person=Person("coord-1", frozenset({Role.COORDINATOR})))
    person = Actor(person=Person("worker-1"))
    assert requester(hr, "worker-1") == "system:hr-portal"
    assert requester(coordinator, "worker-1") == "a coordinator"
    assert requester(person, "worker-1") == "the person"
