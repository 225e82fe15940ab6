"""The recognition service's Kafka subscriptions, run through the runtime's ``ingest`` over
the in-memory unit of work: what is stored, what is dead-lettered, and with which reason."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaProducer
from dishka import AsyncContainer, Provider, Scope, make_async_container, provide
from faststream.kafka import KafkaBroker

from kinship_contracts.topics import (
    CHECKINS_RECORDED,
    DIRECTORY_PEOPLE,
    ERASURE_REQUESTED,
    ERASURE_SUBJECTS,
    ESCALATION_CASES,
    GROUP_SESSIONS,
    KUDOS_SUBMITTED,
    PULSE_SUBMITTED,
)
from kinship_recognition.entrypoints.consumers import SUBSCRIPTIONS
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.erasure import ErasedPeople, ErasureTopics
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.dead_letters import DeadLetters
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.ingest import ingest
from kinship_runtime.outbox import OutboxRelay
from kinship_runtime.settings import KinshipSettings
from tests.unit.fakes.kafka import ClearSealer, FakeProducer, FakeRecord
from tests.unit.fakes.recognition import (
    ERASED_IDS,
    ERASED_PEOPLE,
    FakeRecognitionUnitOfWork,
    FakeVault,
    Person,
)
from tests.unit.fakes.relay import FakeRelay

Consume = Callable[[Any], Awaitable[None]]
SETTINGS = RecognitionSettings(env="dev", kudos_daily_limit=10)
VAULT = FakeVault()
NOW = datetime.now(UTC)


@dataclass
class CapturingBroker:
    """Stands in for ``KafkaBroker.subscriber``: keeps each declared consumer by topic."""

    consumers: dict[str, Consume] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def subscriber(self, topic: str, **options: Any) -> Callable[[Consume], Consume]:
        def register(consume: Consume) -> Consume:
            self.consumers[topic] = consume
            self.options[topic] = options
            return consume

        return register


class Fakes(Provider):
    """What the subscriptions are injected with, faked; dead letters are the real ones over
    a fake producer."""

    scope = Scope.APP

    def __init__(
        self, uow: FakeRecognitionUnitOfWork, producer: FakeProducer, relay: FakeRelay
    ) -> None:
        super().__init__()
        self.uow, self.producer, self.relay = uow, producer, relay

    @provide(scope=Scope.REQUEST)
    def unit_of_work(self) -> RecognitionUnitOfWork:
        return self.uow

    @provide
    def settings(self) -> RecognitionSettings:
        return SETTINGS

    @provide
    def topics(self) -> AwardTopics:
        return AwardTopics("awards", "requests", b"r" * 32)

    @provide
    def erasure(self) -> ErasureTopics:
        return ErasureTopics("receipts")

    @provide
    def vault(self) -> SubjectLookup:
        return VAULT

    @provide
    def erased_ids(self) -> ErasedIds:
        return ERASED_IDS

    @provide
    def erased_people(self) -> ErasedPeople:
        return ERASED_PEOPLE

    @provide
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(
            cast(AIOKafkaProducer, self.producer), "kinship.recognition.events", ClearSealer()
        )

    @provide
    def relay_(self) -> OutboxRelay:
        return cast(OutboxRelay, self.relay)


@dataclass
class Running:
    broker: CapturingBroker
    uow: FakeRecognitionUnitOfWork
    producer: FakeProducer
    relay: FakeRelay
    container: AsyncContainer

    async def deliver(self, topic: str, records: Sequence[FakeRecord]) -> None:
        """One consumed batch of ``records`` on ``topic``."""
        await self.broker.consumers[topic](SimpleNamespace(raw_message=tuple(records)))

    def dead_letters(self) -> list[tuple[str, int, str]]:
        """(topic, original offset, reason code) of each dead letter sent."""
        found = []
        for sent in self.producer.sent:
            headers = dict(sent.headers)
            code = headers["kinship-dlq-code"].decode()
            found.append((sent.topic, int(headers["kinship-dlq-offset"]), code))
        return found


@pytest.fixture
def uow() -> FakeRecognitionUnitOfWork:
    return FakeRecognitionUnitOfWork()


@pytest.fixture
async def running(uow: FakeRecognitionUnitOfWork) -> AsyncIterator[Running]:
    producer, relay, broker = FakeProducer(), FakeRelay(), CapturingBroker()
    container = make_async_container(Fakes(uow, producer, relay))
    for subscription in SUBSCRIPTIONS:
        ingest(cast(KafkaBroker, broker), cast(KinshipSettings, SETTINGS), container, subscription)
    yield Running(broker, uow, producer, relay, container)
    await container.close()


def kudos_record(id_: str, sender: str, to: str, offset: int) -> FakeRecord:
    body = {
        "id": id_,
        "from_person_id": sender,
        "to_person_id": to,
        "message": "Thank you!",
        "occurred_at": NOW.isoformat(),
        "source": "tests",
    }
    return FakeRecord(json.dumps(body).encode(), topic=KUDOS_SUBMITTED.name, offset=offset)


def test_every_subscription_reads_its_topic_with_its_own_group() -> None:
    broker = CapturingBroker()
    container = make_async_container(
        Fakes(FakeRecognitionUnitOfWork(), FakeProducer(), FakeRelay())
    )
    for subscription in SUBSCRIPTIONS:
        ingest(cast(KafkaBroker, broker), cast(KinshipSettings, SETTINGS), container, subscription)
    groups = {topic: options["group_id"] for topic, options in broker.options.items()}
    assert groups == {
        "recognition.kudos.submitted": "kinship.recognition.kudos",
        "wellbeing.checkins.recorded": "kinship.recognition.checkins",
        "escalation.cases": "kinship.recognition.cases",
        "programme.pulse.submitted": "kinship.recognition.pulse",
        "directory.people": "kinship.recognition.directory",
        "privacy.erasure.requested": "kinship.recognition.erasure",
        "privacy.erasure.subjects": "kinship.recognition.erasure-subjects",
    }
    owners = {s.topic.name: s.topic.dead_letter_owner for s in SUBSCRIPTIONS}
    assert owners[DIRECTORY_PEOPLE.name] == "checkin"
    assert owners[ERASURE_REQUESTED.name] == "checkin"
    assert owners[KUDOS_SUBMITTED.name] == owners[PULSE_SUBMITTED.name] == "recognition"


async def test_kudos_over_kafka_are_awarded_and_refused_ones_dead_lettered_with_the_reason(
    running: Running,
) -> None:
    await running.deliver(
        KUDOS_SUBMITTED.name,
        [
            kudos_record("k-1", "ann", "bob", offset=1),
            kudos_record("k-self", "dan", "dan", offset=2),
            kudos_record("k-1", "ann", "bob", offset=3),  # the same id again
            FakeRecord(b'{"id": "k-bad"}', topic=KUDOS_SUBMITTED.name, offset=4),
        ],
    )
    assert list(running.uow.kudos) == ["k-1"]
    assert list(running.uow.awards) == ["kudos:k-1"]
    assert [a["subject_id"] for a in running.uow.published("awards")] == [VAULT.subject("bob")]
    assert sorted(running.dead_letters()) == [
        ("recognition.kudos.submitted.dlq", 2, "self_kudos"),
        ("recognition.kudos.submitted.dlq", 4, "validation_failed"),
    ]
    assert running.relay.wakes == 1


@pytest.mark.parametrize("uow", [FakeRecognitionUnitOfWork(poisoned_kudos={"k-poison"})])
async def test_refused_kudos_are_dead_lettered_when_their_batch_is_retried_record_by_record(
    running: Running,
) -> None:
    # Issue 14: a record that fails for good sends the batch record by record; every refusal
    # made on the way must still reach the dead-letter topic, the valid kudos be awarded.
    await running.deliver(
        KUDOS_SUBMITTED.name,
        [
            kudos_record("k-self", "dan", "dan", offset=10),
            kudos_record("k-ok", "ann", "bob", offset=11),
            kudos_record("k-self-2", "eve", "eve", offset=12),
            kudos_record("k-poison", "cat", "bob", offset=13),
        ],
    )
    assert sorted(running.dead_letters()) == [
        ("recognition.kudos.submitted.dlq", 10, "self_kudos"),
        ("recognition.kudos.submitted.dlq", 12, "self_kudos"),
        ("recognition.kudos.submitted.dlq", 13, "processing_failed"),
    ]
    assert list(running.uow.kudos) == ["k-ok"]
    assert list(running.uow.awards) == ["kudos:k-ok"]
    assert len(running.uow.published("awards")) == 1
    assert running.uow.rollbacks >= 1  # the whole batch was tried first, and rolled back


async def test_group_session_proposals_on_the_cases_topic_are_neither_used_nor_dead_lettered(
    running: Running,
) -> None:
    proposal = {"id": "defusing:sig-1", "team_id": "team-x", "kind": "defusing"}
    resolved = {
        "id": "case-1:6",
        "case_id": "case-1",
        "sequence": 6,
        "kind": "resolved",
        "occurred_at": NOW.isoformat(),
        "subject_id": "subject-w",
        "status": "resolved",
        "severity": "high",
        "rules": ["self_referral"],
        "responder_id": "resp-a",
        "outcome": "supported",
    }
    ce_type = ("ce_type", GROUP_SESSIONS.event_type.encode())
    await running.deliver(
        ESCALATION_CASES.name,
        [
            FakeRecord(json.dumps(proposal).encode(), headers=[ce_type], topic="escalation.cases"),
            FakeRecord(json.dumps(resolved).encode(), topic="escalation.cases", offset=1),
        ],
    )
    assert running.dead_letters() == []
    assert list(running.uow.case_facts) == ["case-1"]
    assert list(running.uow.awards) == ["supported:resp-a:1"]
    assert [a["subject_id"] for a in running.uow.published("awards")] == [VAULT.subject("resp-a")]


async def test_pulse_answers_are_kept_and_invalid_ones_dead_lettered(running: Running) -> None:
    good = {
        "id": "p-1",
        "person_id": "ann",
        "survey_id": "2026-11",
        "occurred_at": NOW.isoformat(),
        "source": "tests",
        "answers": {"programme_helps": 4},
    }
    topic = PULSE_SUBMITTED.name
    await running.deliver(
        topic,
        [
            FakeRecord(json.dumps(good).encode(), topic=topic),
            FakeRecord(b'{"id": "p-x"}', topic=topic, offset=1),
        ],
    )
    assert list(running.uow.pulse_rows) == [("2026-11", VAULT.subject("ann"))]
    assert running.dead_letters() == [("programme.pulse.submitted.dlq", 1, "validation_failed")]


async def test_an_unreachable_vault_holds_the_batch_until_it_answers(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Transient: the batch is retried (not dead-lettered, not dropped) until the vault is back.
    monkeypatch.setattr("kinship_runtime.resilience.Backoff.delay", lambda _self: 0.0)
    VAULT.outages, calls_before = 2, len(VAULT.calls)
    await running.deliver(KUDOS_SUBMITTED.name, [kudos_record("k-wait", "ann", "bob", 1)])
    assert len(VAULT.calls) - calls_before == 3 and list(running.uow.kudos) == ["k-wait"]
    assert running.dead_letters() == [] and len(running.uow.published("requests")) == 1


async def test_check_ins_count_by_the_subject_and_team_they_carry(running: Running) -> None:
    body = {
        "id": "c-1",
        "subject_id": "s-eve",
        "team_id": "team-e",
        "occurred_at": "2026-11-29T23:30:00-05:00",
        "recorded_at": NOW.isoformat(),
        "source": "tests",
        "scores": {},
    }
    topic = CHECKINS_RECORDED.name
    await running.deliver(topic, [FakeRecord(json.dumps(body).encode(), topic=topic)])
    ((key, week),) = running.uow.weeks.items()
    assert key == ("s-eve", date(2026, 11, 23)) and week.team_id == "team-e"  # Sunday there


async def test_both_halves_of_an_erasure_are_consumed_and_give_one_receipt(
    running: Running,
) -> None:
    requested = {
        "id": "er-1",
        "person_id": "ann",
        "requested_at": NOW.isoformat(),
        "source": "hr",
    }
    subjects = {
        "id": "er-1:subjects",
        "erasure_id": "er-1",
        "subject_ids": ["s-ann"],
        "occurred_at": NOW.isoformat(),
    }
    await running.deliver(
        ERASURE_REQUESTED.name,
        [FakeRecord(json.dumps(requested).encode(), key=b"ann", topic=ERASURE_REQUESTED.name)],
    )
    assert running.uow.published("receipts") == []
    record = FakeRecord(json.dumps(subjects).encode(), key=b"er-1", topic=ERASURE_SUBJECTS.name)
    await running.deliver(ERASURE_SUBJECTS.name, [record, record])
    (receipt,) = running.uow.published("receipts")
    assert (receipt["id"], receipt["service"]) == ("er-1:recognition", "recognition")


async def test_directory_records_are_applied_and_invalid_ones_left_to_their_owner(
    running: Running,
) -> None:
    person = {"person_id": "ann", "display_name": "Ann", "team_id": "team-a", "timezone": "UTC"}
    topic = DIRECTORY_PEOPLE.name
    await running.deliver(
        topic,
        [
            FakeRecord(json.dumps(person).encode(), key=b"ann", topic=topic),
            FakeRecord(b"{}", key=None, topic=topic, offset=1),
        ],
    )
    assert running.uow.people == {"ann": Person("team-a", "UTC")}
    assert running.dead_letters() == []


async def test_an_erasures_subjects_are_asked_of_the_vault_and_a_closed_one_is_skipped(
    running: Running,
) -> None:
    requested = {"id": "er-2", "person_id": "ann", "requested_at": NOW.isoformat(), "source": "hr"}
    announced = {
        "id": "er-2:subjects",
        "erasure_id": "er-2",
        "occurred_at": NOW.isoformat(),
        "subjects_in_vault": True,
    }
    record = FakeRecord(json.dumps(announced).encode(), key=b"er-2", topic=ERASURE_SUBJECTS.name)
    await running.deliver(
        ERASURE_REQUESTED.name,
        [FakeRecord(json.dumps(requested).encode(), key=b"ann", topic=ERASURE_REQUESTED.name)],
    )
    # Closed (a replay after completion): skipped, no receipt, nothing dead-lettered.
    VAULT.erasures.pop("er-2", None)
    await running.deliver(ERASURE_SUBJECTS.name, [record])
    assert running.uow.published("receipts") == [] and running.dead_letters() == []
    # Open: its ids come from the vault and the half completes.
    VAULT.erasures["er-2"] = ["s-ann"]
    try:
        await running.deliver(ERASURE_SUBJECTS.name, [record])
    finally:
        VAULT.erasures.pop("er-2")
    (receipt,) = running.uow.published("receipts")
    assert receipt["id"] == "er-2:recognition"


async def test_events_about_subjects_erased_before_they_are_consumed_are_skipped_not_dead_lettered(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    erased = {
        "id": "er-3:subjects",
        "erasure_id": "er-3",
        "subject_ids": [],
        "subjects_in_vault": True,
        "occurred_at": NOW.isoformat(),
    }
    monkeypatch.setitem(VAULT.erasures, "er-3", ["s-ann"])  # the ids the check-in service serves
    await running.deliver(
        ERASURE_SUBJECTS.name,
        [FakeRecord(json.dumps(erased).encode(), key=b"er-3", topic=ERASURE_SUBJECTS.name)],
    )

    def checkin(id_: str, subject: str, offset: int) -> FakeRecord:
        body = {
            "id": id_,
            "subject_id": subject,
            "team_id": "team-a",
            "occurred_at": NOW.isoformat(),
            "recorded_at": NOW.isoformat(),
            "source": "tests",
            "scores": {},
        }
        return FakeRecord(json.dumps(body).encode(), topic=CHECKINS_RECORDED.name, offset=offset)

    def case(id_: str, subject: str, offset: int) -> FakeRecord:
        body = {
            "id": f"{id_}:1",
            "case_id": id_,
            "sequence": 1,
            "kind": "opened",
            "occurred_at": NOW.isoformat(),
            "subject_id": subject,
            "status": "opened",
            "severity": "high",
            "rules": ["self_referral"],
        }
        return FakeRecord(json.dumps(body).encode(), topic=ESCALATION_CASES.name, offset=offset)

    await running.deliver(
        CHECKINS_RECORDED.name, [checkin("c-ann", "s-ann", 0), checkin("c-bob", "s-bob", 1)]
    )
    await running.deliver(
        ESCALATION_CASES.name, [case("case-a", "s-ann", 0), case("case-b", "s-bob", 1)]
    )

    assert [subject for subject, _ in running.uow.weeks] == ["s-bob"]
    assert list(running.uow.case_facts) == ["case-b"]
    assert running.dead_letters() == []
