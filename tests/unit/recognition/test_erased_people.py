"""Kudos, pulse answers and responders' appreciation naming an erased person, consumed again
after the erasure (a backlog, a consumer-group reset or a replay of the topic), are skipped:
the kudos are not stored again, the vault mints the person no new subject id, no award
reaches them; what is produced after the erasure is processed. The record of erased person
ids (keyed hashes with the erasure's time) and how it is kept. Over the in-memory ports,
through the consumers' store functions."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer

from kinship_contracts.cases import CaseEvent, CaseEventKind
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureRequested
from kinship_contracts.pulse import PulseSubmitted
from kinship_contracts.topics import ESCALATION_CASES, KUDOS_SUBMITTED, PULSE_SUBMITTED
from kinship_recognition.entrypoints import consumers
from kinship_recognition.handlers import erasure as erasure_handlers
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasedPeople, ErasureTopics, erase_people
from kinship_recognition.settings import (
    ERASED_IDS_LABEL,
    ERASED_PEOPLE_LABEL,
    RecognitionSettings,
)
from kinship_runtime.dead_letters import DeadLetters
from kinship_runtime.erased_ids import derive_key
from kinship_runtime.records import Accepted, produced_at
from tests.unit.fakes.kafka import ClearSealer, FakeProducer, FakeRecord, Timed
from tests.unit.fakes.metrics import Counted
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    ERASED_PEOPLE,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
    case_event,
    kudos,
    pulse,
)

SETTINGS = RecognitionSettings(env="dev", kudos_daily_limit=10)
TOPICS = AwardTopics("awards", "requests", b"r" * 32)
RECEIPTS = ErasureTopics("receipts")
HOUR = timedelta(hours=1)


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> Counted:
    counted = Counted()
    monkeypatch.setattr(erasure_handlers, "ERASED_SKIPPED", counted)
    return counted


def record(event: Any, topic: str, produced: datetime | None, offset: int = 0) -> Timed:
    millis = -1 if produced is None else int(produced.timestamp() * 1000)
    return Timed(event.model_dump_json().encode(), topic=topic, offset=offset, timestamp=millis)


def as_consumed(topic: str, *items: tuple[Any, datetime | None]) -> list[Accepted[Any]]:
    """Events as the consumer's parser hands them on: each with its record."""
    return [
        Accepted(record(event, topic, produced, offset), event)
        for offset, (event, produced) in enumerate(items)
    ]


@dataclass
class Service:
    """The recognition service's consumers over the in-memory ports."""

    uow: FakeRecognitionUnitOfWork
    vault: FakeVault = field(default_factory=FakeVault)
    producer: FakeProducer = field(default_factory=FakeProducer)

    async def kudos(self, *items: tuple[KudosSubmitted, datetime | None]) -> None:
        dead_letters = DeadLetters(
            cast(AIOKafkaProducer, self.producer), "kinship.recognition.events", ClearSealer()
        )
        await consumers.store_kudos(
            as_consumed(KUDOS_SUBMITTED.name, *items),
            self.uow,
            TOPICS,
            self.vault,
            SETTINGS,
            dead_letters,
            ERASED_PEOPLE,
        )

    async def pulse(self, *items: tuple[PulseSubmitted, datetime | None]) -> None:
        await consumers.store_pulse(
            as_consumed(PULSE_SUBMITTED.name, *items), self.uow, self.vault, ERASED_PEOPLE
        )

    async def cases(self, *items: tuple[CaseEvent, datetime | None]) -> None:
        await consumers.store_cases(
            as_consumed(ESCALATION_CASES.name, *items),
            self.uow,
            TOPICS,
            self.vault,
            ERASED_IDS,
            ERASED_PEOPLE,
        )

    async def erase(self, person: str, id_: str = "er-1") -> None:
        """The person half of an erasure, run now (to the millisecond, as records are)."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        request = ErasureRequested(id=id_, person_id=person, requested_at=now, source="hr")
        async with self.uow:
            await erase_people([request], self.uow, RECEIPTS, now, erased=ERASED_PEOPLE)
        self.uow.outbox.clear()

    def erased_at(self, person: str) -> datetime:
        return self.uow.erased_times[ERASED_PEOPLE.digest(person)]


def team() -> dict[str, Person]:
    return {name: Person("team-a") for name in ("ann", "bob", "cat")}


async def ann_was_erased_after_kudos_with_bob() -> tuple[Service, datetime]:
    """Ann sent Bob kudos and Bob sent Ann kudos two hours ago; then Ann was erased."""
    service = Service(FakeRecognitionUnitOfWork(team()))
    then = datetime.now(UTC) - 2 * HOUR
    await service.kudos((kudos("k-1", "ann", "bob"), then), (kudos("k-2", "bob", "ann"), then))
    await service.erase("ann")
    assert list(service.uow.kudos) == [] and not service.uow.awards
    service.uow.outbox.clear()
    service.vault.calls.clear()
    return service, service.erased_at("ann")


async def test_replayed_kudos_from_or_to_an_erased_person_are_skipped_before_the_vault(
    skipped: Counted,
) -> None:
    service, erased_at = await ann_was_erased_after_kudos_with_bob()

    await service.kudos(
        (kudos("k-1", "ann", "bob"), erased_at - 2 * HOUR),  # she sent them
        (kudos("k-2", "bob", "ann"), erased_at - 2 * HOUR),  # she received them
        (kudos("k-3", "cat", "ann"), erased_at),  # at the erasure: not after it
    )

    assert service.uow.kudos == {} and service.uow.awards == {}
    assert service.uow.outbox == []  # no award, no celebration request
    assert service.vault.calls == []  # nobody's subject id asked for
    assert service.producer.sent == []  # valid events: not dead-lettered
    assert skipped.adds == [(3, {"consumer": "kudos"})]  # counted, never by id


async def test_kudos_produced_after_the_erasure_are_new_and_given(skipped: Counted) -> None:
    service, erased_at = await ann_was_erased_after_kudos_with_bob()

    await service.kudos((kudos("k-4", "bob", "ann"), erased_at + timedelta(milliseconds=1)))

    assert list(service.uow.kudos) == ["k-4"]
    assert service.uow.awards["kudos:k-4"].person_id == "ann"
    assert skipped.adds == []


async def test_other_kudos_in_the_batch_are_given_and_refused_ones_still_dead_lettered(
    skipped: Counted,
) -> None:
    service, erased_at = await ann_was_erased_after_kudos_with_bob()
    old = erased_at - HOUR

    await service.kudos(
        (kudos("k-1", "ann", "bob"), old),
        (kudos("k-5", "bob", "cat"), old),
        (kudos("k-6", "cat", "cat"), old),  # to oneself: refused
    )

    assert list(service.uow.kudos) == ["k-5"]
    assert service.vault.calls == [["cat"]]  # only the recipient of the kudos given
    (dead,) = service.producer.sent
    assert dict(dead.headers)["kinship-dlq-code"] == b"self_kudos"
    assert dict(dead.headers)["kinship-dlq-offset"] == b"2"  # the refused record's own offset
    assert skipped.adds == [(1, {"consumer": "kudos"})]


async def test_a_kudos_record_without_a_timestamp_is_given_rather_than_dropped_on_a_guess() -> None:
    service, _ = await ann_was_erased_after_kudos_with_bob()
    await service.kudos((kudos("k-2", "bob", "ann"), None))
    assert list(service.uow.kudos) == ["k-2"]


async def test_a_replayed_pulse_answer_gets_the_erased_person_no_new_subject_id(
    skipped: Counted,
) -> None:
    service = Service(FakeRecognitionUnitOfWork(team()))
    service.vault.subject("bob")  # Bob has a subject id already (from his check-ins)
    then = datetime.now(UTC) - 2 * HOUR
    await service.pulse((pulse("p-1", "ann", then, programme_helps=5), then))
    await service.erase("ann")
    service.vault.vault.pop("ann")  # the check-in service's erasure forgets her subject id
    rows = dict(service.uow.pulse_rows)
    service.vault.calls.clear()
    erased_at = service.erased_at("ann")

    await service.pulse(
        (pulse("p-1", "ann", then, programme_helps=5), erased_at - HOUR),
        (pulse("p-2", "bob", then, programme_helps=4), erased_at - HOUR),
    )

    assert "ann" not in service.vault.vault  # no new subject id minted for her
    assert service.vault.calls == [["bob"]]
    assert [key for key in service.uow.pulse_rows if key not in rows] == [
        ("2026-11", service.vault.vault["bob"])
    ]
    assert skipped.adds == [(1, {"consumer": "pulse"})]

    await service.pulse((pulse("p-3", "ann", then, programme_helps=2), erased_at + HOUR))
    assert "ann" in service.vault.vault  # answered after her erasure: a new respondent
    assert skipped.adds == [(1, {"consumer": "pulse"})]


def rita_resolves(case_id: str) -> list[CaseEvent]:
    """The responder Rita resolves a case about Wes, who thanks her."""
    at = datetime.now(UTC) - 3 * HOUR
    return [
        case_event(
            case_id, 2, CaseEventKind.RESOLVED, at, responder_id="rita", outcome="supported"
        ),
        case_event(
            case_id,
            3,
            CaseEventKind.FEEDBACK_RECEIVED,
            at,
            feedback_score=5,
            feedback_from="person",
            responder_id="rita",
        ),
    ]


async def test_a_replayed_resolution_or_thanks_does_not_appreciate_an_erased_responder_again(
    skipped: Counted,
) -> None:
    service = Service(FakeRecognitionUnitOfWork(team()))
    then = datetime.now(UTC) - 3 * HOUR
    await service.cases(*((event, then) for event in rita_resolves("case-1")))
    assert sorted(service.uow.awards) == ["supported:rita:1", "thanks:case-1"]
    await service.erase("rita")
    assert service.uow.awards == {} and service.uow.supported == {}
    service.uow.outbox.clear()
    service.vault.calls.clear()
    erased_at = service.erased_at("rita")

    await service.cases(*((event, erased_at - HOUR) for event in rita_resolves("case-1")))

    assert service.uow.awards == {} and service.uow.supported == {}
    assert service.uow.outbox == [] and service.vault.calls == []  # nobody celebrated
    assert set(service.uow.case_facts) == {"case-1"}  # the case's facts (Wes's) still kept
    assert len(service.uow.feedback_rows) == 1  # and his feedback
    assert skipped.adds == [(1, {"consumer": "cases"}), (1, {"consumer": "cases"})]


async def test_a_thanks_replayed_to_an_erased_resolver_named_only_by_the_record_is_skipped(
    skipped: Counted,
) -> None:
    """The thanks names no responder: it goes to who resolved the case (kept by person id);
    a replay of the resolution in an earlier batch was skipped, so nobody is thanked."""
    service = Service(FakeRecognitionUnitOfWork(team()))
    await service.erase("rita")
    erased_at = service.erased_at("rita")
    resolution, thanks = rita_resolves("case-2")
    thanks = thanks.model_copy(update={"responder_id": None})
    await service.cases((resolution, erased_at - HOUR))
    await service.cases((thanks, erased_at - HOUR))
    assert service.uow.awards == {}
    assert len(skipped.adds) == 1  # the resolution; the thanks then has nobody to go to


async def test_another_responder_is_appreciated_and_one_assigned_after_the_erasure_too(
    skipped: Counted,
) -> None:
    service = Service(FakeRecognitionUnitOfWork(team()))
    await service.erase("rita")
    erased_at = service.erased_at("rita")
    before = erased_at - HOUR
    resolved_by_sam = case_event(
        "case-3", 2, CaseEventKind.RESOLVED, before, responder_id="sam", outcome="supported"
    )

    await service.cases(
        (resolved_by_sam, before),
        *((event, erased_at + timedelta(milliseconds=1)) for event in rita_resolves("case-4")),
    )

    assert sorted(service.uow.awards) == ["supported:rita:1", "supported:sam:1", "thanks:case-4"]
    assert skipped.adds == []


async def test_a_later_erasure_of_the_same_person_moves_the_time_forward_never_back() -> None:
    uow = FakeRecognitionUnitOfWork()
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    digest = ERASED_PEOPLE.digests(["ann"])
    async with uow:
        await uow.remember_erased(digest, now + ERASED_PEOPLE.keep_for, erased_at=now)
        await uow.remember_erased(digest, now, erased_at=now - HOUR)  # an older one, late
    async with uow:
        assert await uow.erased_since(digest, now) == {digest[0]: now}
    async with uow:
        assert await uow.forget_erased(now + ERASED_PEOPLE.keep_for, 100) == 1
        assert await uow.erased_since(digest, now) == {}


def test_person_ids_are_kept_as_keyed_hashes_apart_from_subject_ids() -> None:
    people = SETTINGS.erased_people()
    secret = SETTINGS.dead_letter_wrapping_key()
    assert isinstance(people, ErasedPeople) and people.kind == "person"
    assert people.key == derive_key(secret, ERASED_PEOPLE_LABEL)
    assert people.key != derive_key(secret, ERASED_IDS_LABEL)
    assert people.keep_for == timedelta(days=30 + 8)  # escalation.cases: 30 days + a segment
    assert people.digest("ann") != SETTINGS.erased_ids().digest("ann")
    assert b"ann" not in people.digest("ann") and repr(people.key) not in repr(people)


async def test_the_erasure_consumer_keeps_the_person_id_as_erased_when_it_ran() -> None:
    uow = FakeRecognitionUnitOfWork(team())
    asked = datetime(2026, 11, 1, tzinfo=UTC)  # long before it ran
    request = ErasureRequested(id="er-9", person_id="ann", requested_at=asked, source="hr")
    before = datetime.now(UTC)
    await consumers.store_erasures([request], uow, RECEIPTS, ERASED_PEOPLE)
    (digest,) = uow.erased_times
    assert digest == ERASED_PEOPLE.digest("ann")
    assert before <= uow.erased_times[digest] <= datetime.now(UTC)
    assert uow.erased_ids[digest] == uow.erased_times[digest] + ERASED_PEOPLE.keep_for


def test_a_consumed_record_carries_its_kafka_timestamp_not_the_bodys_time() -> None:
    produced = datetime(2026, 11, 25, 12, 0, 0, 123000, tzinfo=UTC)
    body = kudos("k-1", at=datetime(2020, 1, 1, tzinfo=UTC))  # the client's claim
    assert produced_at(record(body, KUDOS_SUBMITTED.name, produced)) == produced
    assert produced_at(record(body, KUDOS_SUBMITTED.name, None)) is None  # -1
    assert produced_at(FakeRecord(b"{}")) is None  # no timestamp at all
    assert produced_at(Timed(b"{}", timestamp=True)) is None  # a bool is no time
