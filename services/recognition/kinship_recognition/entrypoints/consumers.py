"""Kafka subscriptions of the recognition service: thin functions over the handlers.

Each ``store`` function receives a batch of events; its other parameters are injected from
a fresh request scope (``kinship_runtime.ingest``), so each attempt (the whole batch, or one
record when the batch is isolated record by record) has its own unit of work.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from dishka import FromDishka

from kinship_contracts.cases import CaseEvent
from kinship_contracts.checkins import CheckinRecorded
from kinship_contracts.directory import DirectoryChange
from kinship_contracts.kudos import KudosSubmitted
from kinship_contracts.privacy import ErasureRequested, SubjectsErased
from kinship_contracts.pulse import PulseSubmitted
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
from kinship_recognition.handlers.awards import AwardTopics
from kinship_recognition.handlers.directory import apply_directory
from kinship_recognition.handlers.erasure import (
    Consumed,
    ErasedPeople,
    ErasureTopics,
    erase_people,
    erase_subjects,
    erased_people,
    replayed_responder,
    skip_erased,
    skip_replayed,
)
from kinship_recognition.handlers.feedback import record_case_feedback, record_pulse
from kinship_recognition.handlers.kudos import give_kudos
from kinship_recognition.handlers.ports import RecognitionUnitOfWork, SubjectLookup
from kinship_recognition.handlers.responders import record_case_events, thanked_responders
from kinship_recognition.handlers.streaks import record_checkins
from kinship_recognition.settings import RecognitionSettings
from kinship_runtime.dead_letters import DeadLetters
from kinship_runtime.erased_ids import ErasedIds
from kinship_runtime.erasure import parse_erasure_requests, subjects_from_vault
from kinship_runtime.ingest import Subscription
from kinship_runtime.records import (
    Accepted,
    Parse,
    Record,
    Rejected,
    header,
    parse_directory,
    parse_records,
    produced_at,
)

T = TypeVar("T")


def with_records(parse: Parse[T]) -> Parse[Accepted[T]]:
    """A parser whose events keep their Kafka record (to dead-letter what a handler refuses)."""

    def parse_keeping(
        records: Sequence[Record],
    ) -> tuple[list[Accepted[Accepted[T]]], list[Rejected]]:
        accepted, rejected = parse(records)
        return [Accepted(item.record, item) for item in accepted], rejected

    return parse_keeping


_parse_cases = parse_records(CaseEvent)


def parse_case_transitions(
    records: Sequence[Record],
) -> tuple[list[Accepted[CaseEvent]], list[Rejected]]:
    """Case transitions; group-session proposals share the topic and are skipped."""
    proposals = GROUP_SESSIONS.event_type
    return _parse_cases([r for r in records if header(r, "ce_type") != proposals])


def _subject(event: CheckinRecorded | CaseEvent) -> str:
    return event.subject_id


def _consumed(items: Sequence[Accepted[T]]) -> list[Consumed[Accepted[T]]]:
    """Each accepted event (kept with its record) with when its record was produced."""
    return [Consumed(item, produced_at(item.record)) for item in items]


def _kudos_people(item: Accepted[KudosSubmitted]) -> tuple[str, str]:
    return item.event.from_person_id, item.event.to_person_id


def _respondent(item: Accepted[PulseSubmitted]) -> tuple[str]:
    return (item.event.person_id,)


async def store_kudos(
    items: Sequence[Accepted[KudosSubmitted]],
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[AwardTopics],
    vault: FromDishka[SubjectLookup],
    settings: FromDishka[RecognitionSettings],
    dead_letters: FromDishka[DeadLetters],
    erased: FromDishka[ErasedPeople],
) -> None:
    """Give kudos once each; dead-letter the refused ones with the reason. Kudos naming a
    person erased after they were produced (a backlog, a replay) are skipped first.

    Refusals are dead-lettered by the attempt that made them, once it has committed: when a
    batch is retried record by record, each record's attempt sends its own (issue 14).
    """
    now = datetime.now(UTC)
    async with uow:
        consumed = await skip_replayed(
            _consumed(items), _kudos_people, uow, erased, now, consumer="kudos"
        )
        kept = [item.event for item in consumed]
        outcomes = await give_kudos(
            [item.event for item in kept],
            uow,
            topics,
            vault,
            daily_limit=settings.kudos_daily_limit,
            now=now,
            produced_at={item.event.event.id: item.produced_at for item in consumed},
        )
    refused = [
        Rejected(item.record, {"code": outcome.refusal.value, "errors": []})
        for item, outcome in zip(kept, outcomes, strict=True)
        if outcome.refusal is not None
    ]
    await dead_letters.send(refused)


async def store_checkins(
    events: Sequence[CheckinRecorded],
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[AwardTopics],
    vault: FromDishka[SubjectLookup],
    erased: FromDishka[ErasedIds],
) -> None:
    """Count a batch of recorded check-ins towards streaks and team participation (except
    those about a subject id erased meanwhile)."""
    now = datetime.now(UTC)
    async with uow:
        kept = await skip_erased(events, _subject, uow, erased, now, consumer="checkins")
        if kept:
            await record_checkins(kept, uow, topics, vault, now)


async def store_cases(
    items: Sequence[Accepted[CaseEvent]],
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[AwardTopics],
    vault: FromDishka[SubjectLookup],
    erased: FromDishka[ErasedIds],
    people: FromDishka[ErasedPeople],
) -> None:
    """Keep a batch of case transitions' facts and feedback; appreciate responders (except
    for cases about a subject id erased meanwhile, and responders erased after the
    transition naming them was produced)."""
    now = datetime.now(UTC)
    async with uow:
        events = [item.event for item in items]
        kept = await skip_erased(events, _subject, uow, erased, now, consumer="cases")
        produced = {item.event.id: produced_at(item.record) for item in items}
        found = await erased_people(uow, people, await thanked_responders(kept, uow), now)
        passed_over = replayed_responder(produced, found)
        await record_case_events(
            kept, uow, topics, vault, now, passed_over=passed_over, produced_at=produced
        )
        await record_case_feedback(kept, uow, now)


async def store_pulse(
    items: Sequence[Accepted[PulseSubmitted]],
    uow: FromDishka[RecognitionUnitOfWork],
    vault: FromDishka[SubjectLookup],
    erased: FromDishka[ErasedPeople],
) -> None:
    """Keep a batch of pulse answers under the respondents' subject ids, but for those of a
    person erased after they were produced (a backlog, a replay): skipped before the vault
    is asked, so it mints the erased person no new subject id."""
    now = datetime.now(UTC)
    async with uow:
        consumed = await skip_replayed(
            _consumed(items), _respondent, uow, erased, now, consumer="pulse"
        )
        if consumed:
            produced = {item.event.event.id: item.produced_at for item in consumed}
            await record_pulse([item.event.event for item in consumed], uow, vault, now, produced)


async def store_directory(
    changes: Sequence[DirectoryChange], uow: FromDishka[RecognitionUnitOfWork]
) -> None:
    """Apply a batch of directory changes."""
    async with uow:
        await apply_directory(changes, uow)


async def store_erasures(
    requests: Sequence[ErasureRequested],
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[ErasureTopics],
    erased: FromDishka[ErasedPeople],
) -> None:
    """Forget what is kept by the person id of each erasure request, and skip later
    deliveries of events about them produced before it."""
    async with uow:
        await erase_people(requests, uow, topics, datetime.now(UTC), erased=erased)


async def store_erased_subjects(
    events: Sequence[SubjectsErased],
    uow: FromDishka[RecognitionUnitOfWork],
    topics: FromDishka[ErasureTopics],
    vault: FromDishka[SubjectLookup],
    erased: FromDishka[ErasedIds],
) -> None:
    """Forget what is kept by the subject ids the check-in service names for an erasure
    (asked of it: never on Kafka), and skip later events about them."""
    opened = await subjects_from_vault(events, vault)
    async with uow:
        await erase_subjects(opened, uow, topics, erased, datetime.now(UTC))


SUBSCRIPTIONS: tuple[Subscription[Any], ...] = (
    Subscription(
        KUDOS_SUBMITTED,
        "kudos",
        parse=with_records(parse_records(KudosSubmitted)),
        store=store_kudos,
        description="Kudos from other systems; refused ones go to the .dlq with the reason. "
        "Those naming a person, produced before that person's erasure (a backlog or a replay) are "
        "skipped.",
    ),
    Subscription(
        CHECKINS_RECORDED,
        "checkins",
        parse=parse_records(CheckinRecorded),
        store=store_checkins,
        description="Recorded check-ins: only that one happened, for weekly streaks.",
    ),
    Subscription(
        ESCALATION_CASES,
        "cases",
        parse=with_records(parse_case_transitions),
        store=store_cases,
        description="Case transitions: resolutions and thanks appreciate responders, but not "
        "one erased after the transition was produced (a backlog or a replay).",
    ),
    Subscription(
        PULSE_SUBMITTED,
        "pulse",
        parse=with_records(parse_records(PulseSubmitted)),
        store=store_pulse,
        description="Pulse-survey answers from survey tools, for programme reports. Those of "
        "a person, produced before that person's erasure (a backlog or a replay) are skipped.",
    ),
    Subscription(
        DIRECTORY_PEOPLE,
        "directory",
        parse=parse_directory,
        store=store_directory,
        description="The directory: teams and roles (who may read reports), and the teams "
        "celebrated together.",
    ),
    Subscription(
        ERASURE_REQUESTED,
        "erasure",
        parse=parse_erasure_requests,
        store=store_erasures,
        description="Erasure requests: forget kudos, awards, supported cases and the "
        "directory row kept by the person's id.",
    ),
    Subscription(
        ERASURE_SUBJECTS,
        "erasure-subjects",
        parse=parse_records(SubjectsErased),
        store=store_erased_subjects,
        description="The subject ids of an erasure (from the check-in service): forget "
        "check-in weeks, streaks, pulse answers and case facts kept by them.",
    ),
)
