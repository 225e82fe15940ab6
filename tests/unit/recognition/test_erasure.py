"""Erasure in the recognition service: the person half and the subjects half, in either
order, each once, one receipt; everyone else's data intact. Over the in-memory ports."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from kinship_contracts.cases import CaseEventKind
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasureTopics, erase_people, erase_subjects
from kinship_recognition.handlers.feedback import record_case_feedback, record_pulse
from kinship_recognition.handlers.kudos import give_kudos
from kinship_recognition.handlers.responders import record_case_events
from kinship_recognition.handlers.streaks import record_checkins
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    ERASED_PEOPLE,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    case_event,
    checkin_recorded,
    kudos,
    pulse,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
RECEIPTS = ErasureTopics("receipts")
ANN_WORDS = "ann-wrote-these-words"


async def two_people() -> tuple[FakeRecognitionUnitOfWork, FakeVault]:
    """Ann and Bob with kudos both ways, streaks, pulse answers, a case each, and Ann as the
    responder of Bob's case; dead letters naming each."""
    uow = FakeRecognitionUnitOfWork({"ann": Person("t-1"), "bob": Person("t-1")})
    vault = FakeVault()
    ann, bob = vault.subject("ann"), vault.subject("bob")
    async with uow:
        sent = [
            kudos("k-1", "ann", "bob", ANN_WORDS),
            kudos("k-2", "bob", "ann", "from bob"),
            kudos("k-3", "bob", "cat", "bob to cat"),
        ]
        await give_kudos(sent, uow, TOPICS, vault, daily_limit=10, now=NOW)
        weekly = [
            checkin_recorded(f"c-{who}-{n}", subject, NOW - timedelta(weeks=n), "t-1")
            for who, subject in (("ann", ann), ("bob", bob))
            for n in range(4)
        ]
        await record_checkins(weekly, uow, TOPICS, vault, NOW)
        answers = [
            pulse("p-ann", "ann", NOW, programme_helps=2),
            pulse("p-bob", "bob", NOW, programme_helps=5),
        ]
        await record_pulse(answers, uow, vault, NOW)
        events = [
            case_event("case-a", 1, CaseEventKind.OPENED, NOW, ann),
            case_event("case-b", 1, CaseEventKind.OPENED, NOW, bob),
            case_event(
                "case-b",
                2,
                CaseEventKind.RESOLVED,
                NOW,
                bob,
                responder_id="ann",
                outcome="supported",
            ),
            case_event(
                "case-a",
                3,
                CaseEventKind.FEEDBACK_RECEIVED,
                NOW,
                ann,
                feedback_score=5,
                feedback_from="person",
            ),
            case_event(
                "case-b",
                3,
                CaseEventKind.FEEDBACK_RECEIVED,
                NOW,
                bob,
                feedback_score=4,
                feedback_from="person",
            ),
        ]
        await record_case_events(events, uow, TOPICS, vault, NOW)
        await record_case_feedback(events, uow, NOW)
    uow.dead_letter_refs = {"dlk-ann": {"ann", "k-9"}, "dlk-s-ann": {ann}, "dlk-bob": {"bob", bob}}
    uow.outbox.clear()
    return uow, vault


def requested(erasure_id: str = "er-1", person: str = "ann") -> ErasureRequested:
    return ErasureRequested(id=erasure_id, person_id=person, requested_at=NOW, source="hr")


def subjects_of(vault: FakeVault, person: str = "ann", erasure_id: str = "er-1") -> SubjectsErased:
    return SubjectsErased(
        id=f"{erasure_id}:subjects",
        erasure_id=erasure_id,
        subject_ids=[vault.subject(person)],
        occurred_at=NOW,
    )


def everything(uow: FakeRecognitionUnitOfWork) -> str:
    """Every row the fake keeps, as text (a dump of the schema)."""
    return repr([getattr(uow, name) for name in uow._STATE if name != "outbox"])


async def test_the_person_half_forgets_what_is_kept_by_their_id() -> None:
    uow, _vault = await two_people()
    async with uow:
        await erase_people([requested()], uow, RECEIPTS, NOW, erased=ERASED_PEOPLE)
    assert sorted(uow.kudos) == ["k-3"]  # bob to cat stays
    assert ANN_WORDS not in everything(uow)
    assert all(grant.person_id != "ann" for grant in uow.awards.values())
    assert "kudos:k-1" not in uow.awards and "kudos:k-2" not in uow.awards
    assert "kudos:k-3" in uow.awards
    assert uow.supported == {} and "ann" not in uow.people and "bob" in uow.people
    assert sorted(uow.dead_letter_refs) == ["dlk-bob", "dlk-s-ann"]
    assert uow.published("receipts") == []  # the subjects half is still to come


async def test_the_subjects_half_forgets_what_is_kept_by_their_subject_ids() -> None:
    uow, vault = await two_people()
    ann, bob = vault.subject("ann"), vault.subject("bob")
    ann_weeks = sorted(week for subject, week in uow.weeks if subject == ann)
    async with uow:
        await erase_subjects([subjects_of(vault)], uow, RECEIPTS, ERASED_IDS, NOW)
    assert [k for k in uow.awards if k.startswith("streak:")] == [f"streak:{bob}:4"]
    assert sorted(uow.dead_letter_refs) == ["dlk-ann", "dlk-bob"]
    assert ann not in everything(uow) and "case-a" not in everything(uow)
    # What the reports count is anonymised, not deleted: Ann's rows stay under stand-ins.
    (weeks_stand_in,) = {subject for subject, _ in uow.weeks} - {bob}
    assert sorted(week for s, week in uow.weeks if s == weeks_stand_in) == ann_weeks
    (pulse_stand_in,) = {respondent for _, respondent in uow.pulse_rows} - {bob}
    assert sorted(uow.pulse_rows) == sorted([("2026-11", bob), ("2026-11", pulse_stand_in)])
    answer = uow.pulse_rows["2026-11", pulse_stand_in]
    assert answer.answers["programme_helps"] == 2 and answer.response_id != "p-ann"
    (case_stand_in,) = set(uow.case_facts) - {"case-b"}
    fact = uow.case_facts[case_stand_in]
    assert (fact.team_id, fact.opened_at) == (None, NOW) and fact.subject_id not in (ann, bob)
    ((feedback_case, side),) = set(uow.feedback_rows) - {("case-b", "person")}
    assert (side, uow.feedback_rows[feedback_case, side].score) == ("person", 5)
    # Fresh stand-ins per table: nothing links one table's rows to another's.
    stand_ins = {weeks_stand_in, pulse_stand_in, fact.subject_id, case_stand_in, feedback_case}
    stand_ins.add(uow.feedback_rows[feedback_case, side].subject_id)
    assert len(stand_ins) == 6
    # They are nobody's: Ann's own data lists none of them, Bob's is whole.
    async with uow:
        mine = await uow.personal_records("ann", ann)
        bobs = await uow.personal_records("bob", bob)
    assert (mine.checkin_weeks, mine.pulse, mine.cases, mine.feedback) == ([], [], [], [])
    assert len(bobs.checkin_weeks) == 4 and [c.case_id for c in bobs.cases] == ["case-b"]


@pytest.mark.parametrize("person_first", [True, False])
async def test_both_halves_in_either_order_give_one_receipt_naming_no_one(
    person_first: bool,
) -> None:
    uow, vault = await two_people()

    async def person_half() -> None:
        await erase_people([requested()], uow, RECEIPTS, NOW, erased=ERASED_PEOPLE)

    async def subjects_half() -> None:
        await erase_subjects([subjects_of(vault)], uow, RECEIPTS, ERASED_IDS, NOW)

    halves = [person_half, subjects_half]
    for half in halves if person_first else reversed(halves):
        async with uow:
            await half()
    (receipt,) = [m for m in uow.outbox if m.topic == "receipts"]
    body = json.loads(receipt.value or b"")
    assert (receipt.key, body["id"], body["service"]) == (
        b"er-1",
        "er-1:recognition",
        "recognition",
    )
    removed = body["removed"]
    assert removed["kudos"] == 2 and removed["checkin_weeks_anonymised"] == 4
    assert removed["pulse_responses_anonymised"] == 1 and removed["case_facts_anonymised"] == 1
    assert removed["case_feedback_anonymised"] == 1
    text = receipt.value or b""
    assert b"ann" not in text and vault.subject("ann").encode() not in text
    assert "ann" not in everything(uow) and vault.subject("ann") not in everything(uow)
    assert ANN_WORDS not in everything(uow)
    assert "bob" in everything(uow) and vault.subject("bob") in everything(uow)


async def test_each_half_again_changes_nothing_and_sends_no_second_receipt() -> None:
    uow, vault = await two_people()
    async with uow:
        await erase_people([requested(), requested()], uow, RECEIPTS, NOW, erased=ERASED_PEOPLE)
        await erase_subjects([subjects_of(vault)], uow, RECEIPTS, ERASED_IDS, NOW)
    state = everything(uow)
    async with uow:
        await erase_people([requested()], uow, RECEIPTS, NOW, erased=ERASED_PEOPLE)
        await erase_subjects(
            [subjects_of(vault), subjects_of(vault)], uow, RECEIPTS, ERASED_IDS, NOW
        )
    assert everything(uow) == state
    assert len(uow.published("receipts")) == 1


async def test_someone_never_seen_is_erased_with_a_receipt_all_the_same() -> None:
    uow, _vault = await two_people()
    nobody = SubjectsErased(id="er-2:subjects", erasure_id="er-2", subject_ids=[], occurred_at=NOW)
    state = everything(uow)
    async with uow:
        await erase_people([requested("er-2", "nobody")], uow, RECEIPTS, NOW, erased=ERASED_PEOPLE)
        await erase_subjects([nobody], uow, RECEIPTS, ERASED_IDS, NOW)
    (receipt,) = uow.published("receipts")
    assert receipt["erasure_id"] == "er-2" and all(v == 0 for v in receipt["removed"].values())
    uow.processed = {p for p in uow.processed if "er-2" not in p[1]}
    uow.progress.pop("er-2")
    # All that is left is the keyed hash of the person id, as erased (decision 81).
    assert uow.erased_times == {ERASED_PEOPLE.digest("nobody"): NOW}
    uow.erased_ids.clear()
    uow.erased_times.clear()
    assert everything(uow) == state
