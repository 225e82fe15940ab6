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
from kinship_checkin.domain.privacy import CheckinPrivacy
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
    key, value = event.subject_id.encode(), event.model_dump_json(exclude_none=True).encode()
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
        messages.insert(0, OutboxMessage(event.id, urgent_topic, key, value, [*headers, *tracing]))
    return messages


async def record_checkins(
    submissions: Sequence[CheckinSubmitted],
    uow: CheckinUnitOfWork,
    privacy: CheckinPrivacy,
    topics: RecordingTopics,
    recorded_at: datetime,
) -> list[CheckinResult]:
    """Record valid submissions once each and queue their ``CheckinRecorded`` events."""
    unique = first_of_each_id(list(submissions))
    teams = await uow.teams_of(sorted({submission.person_id for submission in unique}))
    recorded = [
        record_checkin(
            submission,
            subject_id=privacy.pseudonyms.subject_id(submission.person_id),
            team_id=teams.get(submission.person_id),
            sealed_note=(
                privacy.notes.seal(submission.note, submission.id) if submission.note else None
            ),
            recorded_at=recorded_at,
        )
        for submission in unique
    ]
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
