"""Recording check-ins: the same use case for HTTP and Kafka submissions."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kinship_checkin.domain.checkins import (
    RecordedCheckin,
    first_of_each_id,
    needs_immediate_support,
    record_checkin,
)
from kinship_checkin.domain.privacy import NoteCipher, PersonKey
from kinship_checkin.handlers.ports import CheckinUnitOfWork
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.envelope import cloud_event_headers
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.telemetry import trace_headers

EVENT_SOURCE = "kinship/checkin"


class Outcome(StrEnum):
    """What happened to a submission."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class CheckinResult:
    """The result of one submission."""

    id: str
    outcome: Outcome
    immediate_support: bool


@dataclass(frozen=True)
class RecordingTopics:
    """Where recorded check-ins are published (with the environment's prefix)."""

    recorded: str
    urgent: str | None = None


def _outbox_messages(
    recorded: RecordedCheckin,
    topic: str,
    urgent_topic: str | None,
    urgent: bool,
    time: str,
    tracing: list[tuple[str, bytes]],
) -> list[OutboxMessage]:
    event = recorded.event
    key, value = event.subject_id.encode(), event.json()
    messages = [
        OutboxMessage(
            event_id=event.id,
            topic=topic,
            key=key,
            value=value,
            headers=[
                *cloud_event_headers(event.id, EVENT_SOURCE, CHECKINS_RECORDED.event_type, time),
                *tracing,
            ],
        )
    ]
    if urgent and urgent_topic is not None:
        # Immediate risk also takes the urgent lane, first, so no backlog delays its alert.
        headers = cloud_event_headers(event.id, EVENT_SOURCE, CHECKINS_URGENT.event_type, time)
        urgent_copy = OutboxMessage(event.id, urgent_topic, key, value, [*headers, *tracing], True)
        messages.insert(0, urgent_copy)
    return messages


async def record_checkins(
    submissions: Sequence[CheckinSubmitted],
    uow: CheckinUnitOfWork,
    notes: NoteCipher,
    topics: RecordingTopics,
    recorded_at: datetime,
) -> list[CheckinResult]:
    """Record valid submissions once each and queue their ``CheckinRecorded`` events.

    Each person is known beyond this service only by the random subject id the vault gives
    them; a note is sealed under the person's own data key.
    """
    unique = first_of_each_id(list(submissions))
    people = sorted({submission.person_id for submission in unique})
    teams = await uow.teams_of(people)
    subjects = await uow.subjects_for(people)
    keys = await person_keys_for(
        uow, notes, {subjects[item.person_id] for item in unique if item.note}
    )
    recorded = []
    for submission in unique:
        subject_id = subjects[submission.person_id]
        sealed = None
        if submission.note:
            sealed = notes.seal(submission.note, submission.id, keys[subject_id], subject_id)
        recorded.append(
            record_checkin(
                submission,
                subject_id=subject_id,
                team_id=teams.get(submission.person_id),
                sealed_note=sealed,
                recorded_at=recorded_at,
            )
        )
    time = recorded_at.isoformat()
    tracing = trace_headers()  # the batch's (or request's) trace continues downstream
    messages = [
        message
        for item, submission in zip(recorded, unique, strict=True)
        for message in _outbox_messages(
            item, topics.recorded, topics.urgent, needs_immediate_support(submission), time, tracing
        )
    ]
    stored = await uow.record(recorded, messages)
    results = []
    for submission in submissions:
        first_time = submission.id in stored
        stored.discard(submission.id)  # a repeat within the batch is a duplicate
        results.append(
            CheckinResult(
                id=submission.id,
                outcome=Outcome.RECORDED if first_time else Outcome.DUPLICATE,
                immediate_support=needs_immediate_support(submission),
            )
        )
    return results


async def person_keys_for(
    uow: CheckinUnitOfWork, notes: NoteCipher, subject_ids: set[str]
) -> dict[str, PersonKey]:
    """Each person's data key, made on first use (a key another writer stored first wins)."""
    if not subject_ids:
        return {}
    wanted = sorted(subject_ids)
    found = await uow.person_keys(wanted)
    missing = [subject for subject in wanted if subject not in found]
    if missing:
        await uow.add_person_keys({subject: notes.new_person_key(subject) for subject in missing})
        found = await uow.person_keys(wanted)
    return found
