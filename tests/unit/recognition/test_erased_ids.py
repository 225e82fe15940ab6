"""Events about an erased person consumed after their erasure (a backlog, a replay) are
skipped, not stored under their old ids: the record of erased subject ids (keyed hashes),
how long it is kept, and that it names no one. Over the in-memory ports."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.privacy import SubjectsErased
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasureTopics, erase_subjects, skip_erased
from kinship_recognition.handlers.feedback import record_case_feedback
from kinship_recognition.handlers.responders import record_case_events
from kinship_recognition.handlers.streaks import record_checkins
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.erased_ids import (
    ErasedIds,
    ErasedIdsExpiry,
    derive_key,
    expire_in,
    running_expiry,
)
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    case_event,
    checkin_recorded,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
RECEIPTS = ErasureTopics("receipts")
ANN, BOB = "subj-ann", "subj-bob"


def ann_case(case_id: str = "case-a") -> list[CaseEvent]:
    """Ann's case, opened, resolved by the responder Rita, and thanked."""
    return [
        case_event(case_id, 1, CaseEventKind.OPENED, NOW, ANN),
        case_event(
            case_id,
            2,
            CaseEventKind.RESOLVED,
            NOW,
            ANN,
            responder_id="rita",
            outcome="supported",
        ),
        case_event(
            case_id,
            3,
            CaseEventKind.FEEDBACK_RECEIVED,
            NOW,
            ANN,
            feedback_score=5,
            feedback_from="person",
        ),
    ]


async def store_checkins(
    events: list[CheckinRecorded], uow: FakeRecognitionUnitOfWork, now: datetime = NOW
) -> None:
    """What the check-ins consumer does with a batch."""
    async with uow:
        kept = await skip_erased(
            events, lambda e: e.subject_id, uow, ERASED_IDS, now, consumer="checkins"
        )
        if kept:
            await record_checkins(kept, uow, TOPICS, FakeVault(), now)


async def store_cases(
    events: list[CaseEvent], uow: FakeRecognitionUnitOfWork, now: datetime = NOW
) -> None:
    """What the cases consumer does with a batch."""
    async with uow:
        kept = await skip_erased(
            events, lambda e: e.subject_id, uow, ERASED_IDS, now, consumer="cases"
        )
        await record_case_events(kept, uow, TOPICS, FakeVault(), now)
        await record_case_feedback(kept, uow, now)


async def erase(uow: FakeRecognitionUnitOfWork, *subjects: str, at: datetime = NOW) -> None:
    event = SubjectsErased(  # as the vault serves it (an old event's inline ids record nothing)
        id="er-1:subjects",
        erasure_id="er-1",
        subject_ids=list(subjects),
        occurred_at=at,
        subjects_in_vault=True,
    )
    async with uow:
        await erase_subjects([event], uow, RECEIPTS, ERASED_IDS, at)


def weekly(subject: str, weeks: range) -> list[CheckinRecorded]:
    return [
        checkin_recorded(f"c-{subject}-{n}", subject, NOW - timedelta(weeks=n), "t-1")
        for n in weeks
    ]


async def test_check_ins_replayed_after_the_erasure_are_skipped_and_others_still_count() -> None:
    uow = FakeRecognitionUnitOfWork({"rita": Person("t-1")})
    await store_checkins(weekly(ANN, range(4)), uow)
    await erase(uow, ANN)
    before = dict(uow.weeks)
    uow.outbox.clear()

    # The whole topic again (a replay), with Bob's check-ins among Ann's.
    await store_checkins(weekly(ANN, range(4)) + weekly(BOB, range(2)), uow)

    assert not any(subject == ANN for subject, _ in uow.weeks)
    assert {k: v for k, v in uow.weeks.items() if k[0] != BOB} == before  # Ann's stand-ins only
    assert sorted(w for s, w in uow.weeks if s == BOB) == sorted(
        checkin.occurred_at.date() - timedelta(days=checkin.occurred_at.weekday())
        for checkin in weekly(BOB, range(2))
    )
    assert not any(grant.subject_id == ANN for grant in uow.awards.values())
    assert all(award["subject_id"] != ANN for award in uow.published("awards"))


async def test_a_case_replayed_after_the_erasure_stores_no_fact_feedback_or_second_thanks() -> None:
    uow = FakeRecognitionUnitOfWork({"rita": Person("t-1")})
    await store_cases(ann_case(), uow)
    assert "thanks:case-a" in uow.awards and "case-a" in uow.case_facts
    await erase(uow, ANN)
    facts, feedback, awards = dict(uow.case_facts), dict(uow.feedback_rows), dict(uow.awards)
    supported = dict(uow.supported)
    uow.outbox.clear()

    await store_cases(ann_case(), uow)

    assert "case-a" not in uow.case_facts and all(k[0] != "case-a" for k in uow.feedback_rows)
    assert (uow.case_facts, uow.feedback_rows) == (facts, feedback)
    assert (uow.awards, uow.supported) == (awards, supported)  # no thanks given twice
    assert uow.published("awards") == [] and uow.published("requests") == []


async def test_a_case_about_someone_else_in_the_same_batch_is_still_kept() -> None:
    uow = FakeRecognitionUnitOfWork({"rita": Person("t-1")})
    await erase(uow, ANN)
    bob = [case_event("case-b", 1, CaseEventKind.OPENED, NOW, BOB)]

    await store_cases(ann_case() + bob, uow)

    assert list(uow.case_facts) == ["case-b"] and uow.case_facts["case-b"].subject_id == BOB
    assert uow.awards == {}


async def test_the_record_holds_keyed_hashes_never_the_subject_ids() -> None:
    uow = FakeRecognitionUnitOfWork()
    await erase(uow, ANN, BOB)

    assert set(uow.erased_ids) == {ERASED_IDS.digest(ANN), ERASED_IDS.digest(BOB)}
    everything = repr([getattr(uow, name) for name in uow._STATE if name != "outbox"])
    assert ANN not in everything and BOB not in everything
    other_key = ErasedIds(derive_key(b"another-dead-letter-key", "tests"), ERASED_IDS.keep_for)
    assert other_key.digest(ANN) != ERASED_IDS.digest(ANN)  # without the key, no lookup


async def test_the_record_expires_with_the_topics_retention_and_then_events_count_again() -> None:
    uow = FakeRecognitionUnitOfWork()
    await erase(uow, ANN)
    expires = NOW + ERASED_IDS.keep_for
    assert uow.erased_ids == {ERASED_IDS.digest(ANN): expires}

    just_before = expires - timedelta(seconds=1)
    await store_checkins(weekly(ANN, range(1)), uow, just_before)
    assert not any(subject == ANN for subject, _ in uow.weeks)

    expiry = ErasedIdsExpiry(expire_in(lambda: uow))
    assert await expiry.expire() is False and uow.erased_ids  # not yet past its time
    await store_checkins(weekly(ANN, range(1)), uow, expires)
    assert any(subject == ANN for subject, _ in uow.weeks)  # the topic has dropped them by now


async def test_a_running_expiry_is_started_for_its_block_and_stopped_after() -> None:
    uow = FakeRecognitionUnitOfWork()
    uow.erased_ids = {b"old": datetime.now(UTC) - timedelta(days=1)}
    async with running_expiry(expire_in(lambda: uow)) as expiry:
        for _ in range(200):  # its first round runs at once
            if not uow.erased_ids:
                break
            await asyncio.sleep(0.01)
        assert uow.erased_ids == {} and expiry.expired == 1 and uow.commits == 1
    uow.erased_ids = {b"old": datetime.now(UTC) - timedelta(days=1)}
    await asyncio.sleep(0.05)
    assert uow.erased_ids  # stopped: nothing deletes it any more


async def test_the_expiry_deletes_only_digests_past_their_time() -> None:
    uow = FakeRecognitionUnitOfWork()
    uow.erased_ids = {b"old": NOW - timedelta(days=1), b"new": NOW + timedelta(days=1)}
    async with uow:
        assert await uow.forget_erased(NOW, 1000) == 1
    assert list(uow.erased_ids) == [b"new"]


async def test_erasing_again_keeps_one_digest_until_the_later_time() -> None:
    uow = FakeRecognitionUnitOfWork()
    await erase(uow, ANN)
    later = NOW + timedelta(days=3)
    second = SubjectsErased(
        id="er-2:subjects",
        erasure_id="er-2",
        subject_ids=[ANN, ANN],
        occurred_at=later,
        subjects_in_vault=True,
    )
    async with uow:
        await erase_subjects([second], uow, RECEIPTS, ERASED_IDS, later)
        await erase_subjects([second], uow, RECEIPTS, ERASED_IDS, later + timedelta(days=1))
    assert uow.erased_ids == {ERASED_IDS.digest(ANN): later + ERASED_IDS.keep_for}


async def test_nothing_is_skipped_when_nobody_was_erased() -> None:
    uow = FakeRecognitionUnitOfWork()
    events = weekly(ANN, range(2))
    async with uow:
        kept = await skip_erased(events, lambda e: e.subject_id, uow, ERASED_IDS, NOW, consumer="x")
    assert kept == events


def test_the_record_is_kept_as_long_as_the_topics_by_subject_id_keep_events() -> None:
    settings = RecognitionSettings(env="dev")
    assert settings.erased_ids_days == 30 + 8  # the retention, and a segment's outliving it
    assert settings.erased_ids().keep_for == timedelta(days=38)
    assert settings.erased_people_days == 38  # escalation.cases names responders: 30 days
    assert settings.erased_people().keep_for == timedelta(days=38)
    assert RecognitionSettings(env="dev", erased_people_days=9).erased_people().keep_for == (
        timedelta(days=9)
    )
    assert RecognitionSettings(env="dev", erased_ids_days=7).erased_ids().keep_for == timedelta(
        days=7
    )
    for bad in (0, 91):
        with pytest.raises(ValidationError):
            RecognitionSettings(env="dev", erased_ids_days=bad)


def test_the_key_is_derived_from_the_dead_letter_key_and_is_not_that_key() -> None:
    one = RecognitionSettings(env="dev", dead_letter_key="a" * 40)
    two = RecognitionSettings(env="dev", dead_letter_key="b" * 40)
    assert one.erased_ids().key != two.erased_ids().key
    assert (
        one.erased_ids().key
        == RecognitionSettings(env="dev", dead_letter_key="a" * 40).erased_ids().key
    )
    assert one.erased_ids().key != one.dead_letter_wrapping_key()
