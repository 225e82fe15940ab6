"""Submitted check-ins of an erased person consumed again after the erasure (a backlog, a
replay of ``wellbeing.checkins.submitted``) are skipped, not recorded under a new subject id;
one the person submits after the erasure is recorded. The record of erased person ids
(keyed hashes with the erasure's time), how long it is kept, and that it names no one.
Over the in-memory ports."""

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from kinship_checkin.domain.privacy import NoteCipher
from kinship_checkin.entrypoints.consumers import parse_submissions, store_submissions
from kinship_checkin.handlers import erasure as erasure_handlers
from kinship_checkin.handlers.erasure import Consumed, ErasureTopics, erase_people, skip_replayed
from kinship_checkin.handlers.recording import RecordingTopics
from kinship_checkin.settings import ERASED_IDS_LABEL, CheckinSettings
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.privacy import ErasureRequested
from kinship_contracts.topics import CHECKINS_SUBMITTED, DAY_MS
from kinship_runtime.erased_ids import (
    PERSON_KEEP_DAYS,
    SEGMENT_DAYS,
    ErasedIds,
    ErasedIdsExpiry,
    derive_key,
)
from kinship_runtime.records import produced_at
from kinship_runtime.settings import DEV_NOTE_KEY
from tests.kafka_reading import checkin, encode
from tests.unit.fakes.checkin import ERASED_PEOPLE, FakeCheckinUnitOfWork, submitted
from tests.unit.fakes.kafka import FakeRecord, Timed
from tests.unit.fakes.metrics import Counted

NOTES = NoteCipher({"n1": b"n" * 32}, "n1")
TOPICS = RecordingTopics("recorded", "urgent")
ERASURES = ErasureTopics("requested", "subjects", "receipts", "directory", "outreach")
HOUR = timedelta(hours=1)


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counted = Counted()
    monkeypatch.setattr(erasure_handlers, "ERASED_SKIPPED", counted)
    return counted


def at(item: CheckinSubmitted, produced_at: datetime | None) -> Consumed:
    return Consumed(item, produced_at)


async def record(uow: FakeCheckinUnitOfWork, *items: Consumed) -> None:
    """What the submissions consumer does with a batch (its store function)."""
    await store_submissions(list(items), uow, NOTES, TOPICS, ERASED_PEOPLE)


async def erase(uow: FakeCheckinUnitOfWork, person: str, when: datetime, id_: str = "er-1") -> None:
    request = ErasureRequested(id=id_, person_id=person, requested_at=when, source="hr")
    async with uow:
        await erase_people([request], uow, ERASURES, when, erased=ERASED_PEOPLE)
    uow.outbox.clear()


async def ann_checked_in_then_was_erased() -> tuple[FakeCheckinUnitOfWork, datetime, str]:
    """Ann and Bob checked in two hours ago (Ann with a note); Ann was erased an hour ago."""
    uow = FakeCheckinUnitOfWork(teams={"ann": "t-1", "bob": "t-1"})
    now = datetime.now(UTC)
    await record(
        uow,
        at(submitted("c-1", person="ann", note="ann's note"), now - 2 * HOUR),
        at(submitted("c-2", person="bob"), now - 2 * HOUR),
    )
    old_subject = uow.vault["ann"]
    erased_at = now - HOUR
    await erase(uow, "ann", erased_at)
    assert list(uow.checkins) == ["c-2"] and "ann" not in uow.vault
    return uow, erased_at, old_subject


async def test_a_replayed_checkin_of_an_erased_person_is_skipped_not_recorded_again(
    skipped: Counted,
) -> None:
    uow, erased_at, old_subject = await ann_checked_in_then_was_erased()
    replayed = submitted("c-1", person="ann", note="ann's note")
    at_the_erasure = submitted("c-3", person="ann", mood=1)

    await record(uow, at(replayed, erased_at - HOUR), at(at_the_erasure, erased_at))

    assert list(uow.checkins) == ["c-2"]  # neither stored: at or before the erasure
    assert "ann" not in uow.vault  # no new subject id minted for her
    assert uow.outbox == [] and old_subject not in uow.keys
    assert skipped.adds == [(2, {"consumer": "submissions"})]  # counted, never by id


async def test_a_checkin_the_person_submits_after_the_erasure_is_recorded(
    skipped: Counted,
) -> None:
    uow, erased_at, old_subject = await ann_checked_in_then_was_erased()
    crisis = submitted("c-3", person="ann", wants_contact=True, mood=1, note="help")

    await record(uow, at(crisis, erased_at + timedelta(milliseconds=1)))

    assert sorted(uow.checkins) == ["c-2", "c-3"]
    new_subject = uow.vault["ann"]
    assert new_subject != old_subject and uow.checkins["c-3"].event.subject_id == new_subject
    assert [m.topic for m in uow.outbox] == ["urgent", "recorded"]  # the urgent lane too
    assert skipped.adds == []


async def test_someone_elses_checkin_in_the_same_batch_is_recorded(skipped: Counted) -> None:
    uow, erased_at, _ = await ann_checked_in_then_was_erased()
    old = erased_at - HOUR

    await record(
        uow,
        at(submitted("c-1", person="ann"), old),
        at(submitted("c-4", person="bob"), old),
        at(submitted("c-5", person="cat"), old),
    )

    assert sorted(uow.checkins) == ["c-2", "c-4", "c-5"]
    assert [json.loads(m.value or b"{}")["id"] for m in uow.outbox] == ["c-4", "c-5"]
    assert "ann" not in uow.vault
    assert skipped.adds == [(1, {"consumer": "submissions"})]


async def test_a_record_without_a_timestamp_is_recorded_rather_than_dropped_on_a_guess() -> None:
    uow, _, _ = await ann_checked_in_then_was_erased()
    await record(uow, at(submitted("c-1", person="ann"), None))
    assert sorted(uow.checkins) == ["c-1", "c-2"]


async def test_nothing_is_skipped_when_nobody_was_erased(skipped: Counted) -> None:
    uow = FakeCheckinUnitOfWork()
    now = datetime.now(UTC)
    items = [at(submitted("c-1", person="ann"), now - HOUR), at(submitted("c-2"), None)]
    async with uow:
        kept = await skip_replayed(items, uow, ERASED_PEOPLE, now)
    assert kept == [item.submission for item in items] and skipped.adds == []


async def test_the_record_holds_keyed_hashes_of_person_ids_never_the_ids() -> None:
    uow, erased_at, old_subject = await ann_checked_in_then_was_erased()

    digest = ERASED_PEOPLE.digest("ann")
    assert uow.erased_people == {digest: (erased_at, erased_at + ERASED_PEOPLE.keep_for)}
    expected = hmac.new(ERASED_PEOPLE.key, b"person:ann", hashlib.sha256).digest()
    assert digest == expected
    kept = repr(uow.erased_people).encode() + b"".join(uow.erased_people)
    assert b"ann" not in kept and old_subject.encode() not in kept
    other_key = ErasedIds(derive_key(b"another-dead-letter-key", "tests"), timedelta(days=7))
    assert ErasedIds(other_key.key, other_key.keep_for, kind="person").digest("ann") != digest
    # A subject id that happened to equal a person id would not match: the kind is hashed.
    assert ErasedIds(ERASED_PEOPLE.key, ERASED_PEOPLE.keep_for).digest("ann") != digest


async def test_erasing_again_keeps_one_digest_with_the_later_times() -> None:
    uow, erased_at, _ = await ann_checked_in_then_was_erased()
    later = erased_at + timedelta(minutes=30)
    await erase(uow, "ann", later, id_="er-2")
    await erase(uow, "ann", erased_at - HOUR, id_="er-3")  # an earlier time never wins
    digest = ERASED_PEOPLE.digest("ann")
    assert uow.erased_people == {digest: (later, later + ERASED_PEOPLE.keep_for)}

    # A check-in produced between the first and the second erasure was erased by the second.
    await record(uow, at(submitted("c-3", person="ann"), erased_at + timedelta(minutes=10)))
    assert list(uow.checkins) == ["c-2"]


async def test_the_record_expires_with_the_topics_retention_and_then_replays_are_recorded() -> None:
    uow = FakeCheckinUnitOfWork()
    now = datetime.now(UTC)
    await erase(uow, "ann", now - ERASED_PEOPLE.keep_for - HOUR, id_="er-old")
    await erase(uow, "bob", now - HOUR, id_="er-new")
    assert len(uow.erased_people) == 2

    async def expire(when: datetime, limit: int) -> int:
        async with uow:
            return await uow.forget_erased(when, limit)

    expiry = ErasedIdsExpiry(expire)
    assert await expiry.expire() is False and expiry.expired == 1
    assert list(uow.erased_people) == [ERASED_PEOPLE.digest("bob")]
    # Past its keeping time the topic has dropped the person's old records: one that is
    # consumed anyway is recorded (the documented limit).
    await record(uow, at(submitted("c-1", person="ann"), now - ERASED_PEOPLE.keep_for - 2 * HOUR))
    assert list(uow.checkins) == ["c-1"]


async def test_an_expired_digest_is_not_looked_at_before_the_expiry_deletes_it() -> None:
    uow = FakeCheckinUnitOfWork()
    now = datetime.now(UTC)
    erased_at = now - ERASED_PEOPLE.keep_for
    await erase(uow, "ann", erased_at)
    assert uow.erased_people  # not deleted yet, but past its time
    await record(uow, at(submitted("c-1", person="ann"), erased_at - HOUR))
    assert list(uow.checkins) == ["c-1"]


def test_a_consumed_record_carries_its_kafka_timestamp_not_the_bodys_time() -> None:
    produced = datetime(2026, 11, 20, 9, 30, 0, 125_000, tzinfo=UTC)
    body = encode(checkin("c-1", "ann", occurred_at="2030-01-01T00:00:00Z"))

    millis = int(produced.timestamp() * 1000)
    records = [Timed(body, timestamp=millis), Timed(body, timestamp=-1), FakeRecord(body)]
    accepted, rejected = parse_submissions([*records, FakeRecord(b"{}")])

    assert [item.event.produced_at for item in accepted] == [produced, None, None]
    assert all(item.event.submission.id == "c-1" for item in accepted)
    assert [item.record for item in accepted] == records
    assert len(rejected) == 1 and rejected[0].reason["code"] == "validation_failed"
    assert produced_at(Timed(body, timestamp=True)) is None  # a bool is no time


def dev(**fields: Any) -> CheckinSettings:
    return CheckinSettings(
        env="dev", note_keys=SecretStr(f"k1:{DEV_NOTE_KEY}"), note_key_id="k1", **fields
    )


def test_the_record_is_kept_as_long_as_the_ingestion_topics_by_person_id_keep_records() -> None:
    settings = dev()
    # The retention, and the week a Kafka segment may outlive it (a record stays readable
    # until its segment's newest record is past the retention; segments roll weekly).
    assert CHECKINS_SUBMITTED.retention_ms // DAY_MS == 7
    assert PERSON_KEEP_DAYS == 7 + SEGMENT_DAYS == 15
    assert settings.erased_people_days == 15
    assert settings.erased_ids().keep_for == timedelta(days=15)
    assert settings.erased_ids().kind == "person"
    longer = dev(erased_people_days=30)
    assert longer.erased_ids().keep_for == timedelta(days=30)
    for bad in (0, 91):
        with pytest.raises(ValidationError):
            dev(erased_people_days=bad)


def test_the_key_is_derived_from_the_dead_letter_key_with_a_label_of_its_own() -> None:
    def settings(dead_letter_key: str) -> CheckinSettings:
        return dev(dead_letter_key=dead_letter_key)

    one, two = settings("a" * 40), settings("b" * 40)
    assert one.erased_ids().key != two.erased_ids().key
    assert one.erased_ids().key == settings("a" * 40).erased_ids().key
    assert one.erased_ids().key == derive_key(one.dead_letter_wrapping_key(), ERASED_IDS_LABEL)
    assert one.erased_ids().key != one.dead_letter_wrapping_key()
    assert "checkin" in ERASED_IDS_LABEL and "key=" not in repr(one.erased_ids())


class Ordered(FakeCheckinUnitOfWork):
    """Notes which of the erasure's steps came first."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def remember_erased(
        self, digests: Sequence[bytes], erased_at: datetime, until: datetime
    ) -> None:
        self.calls.append("remember_erased")
        await super().remember_erased(digests, erased_at, until)

    async def subjects_for(self, person_ids: Sequence[str], create: bool = True) -> dict[str, str]:
        self.calls.append("subjects_for")
        return await super().subjects_for(person_ids, create)

    async def erase(self, person_id: str, subject_ids: Sequence[str]) -> dict[str, int]:
        self.calls.append("erase")
        return await super().erase(person_id, subject_ids)


async def test_the_erasure_records_the_person_before_it_reads_or_deletes_anything() -> None:
    """The record is written first (taking the lock batches wait for): a batch that checked
    before it has committed by the time the erasure reads the vault and deletes."""
    uow = Ordered()
    await erase(uow, "ann", datetime.now(UTC))
    assert uow.calls == ["remember_erased", "subjects_for", "erase"]
