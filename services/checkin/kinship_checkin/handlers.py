"""Check-in use cases: small functions over a store, the same for HTTP and Kafka."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from kinship_checkin.domain.checkins import (
    RecordedCheckin,
    first_of_each_id,
    needs_immediate_support,
    record_checkin,
)
from kinship_checkin.domain.privacy import NoteCipher, Pseudonymiser
from kinship_checkin.domain.trends import TeamTrend, TrendCell, team_trend
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_contracts.envelope import cloud_event_headers
from kinship_contracts.topics import CHECKINS_RECORDED, CHECKINS_URGENT
from kinship_runtime.outbox import OutboxMessage
from kinship_runtime.telemetry import trace_headers

EVENT_SOURCE = "kinship/checkin"


class CheckinStore(Protocol):
    """What the handlers need from persistence."""

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        """Team ids of the given people, as far as the directory knows them."""
        ...

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        """Store check-ins, vault entries and outbox messages atomically; skip known ids.

        Returns the ids stored now (the others were already there).
        """
        ...

    async def apply_directory(
        self, upserts: Sequence[DirectoryPerson], removals: Sequence[str]
    ) -> None:
        """Upsert and remove directory people."""
        ...

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """Weekly raw figures of a team's check-ins."""
        ...


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
class CheckinPrivacy:
    """The keyed operations that protect people's identity and notes."""

    pseudonyms: Pseudonymiser
    notes: NoteCipher


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
    store: CheckinStore,
    privacy: CheckinPrivacy,
    recorded_topic: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    urgent_topic: str | None = None,
) -> list[CheckinResult]:
    """Record valid submissions once each and queue their ``CheckinRecorded`` events."""
    unique = first_of_each_id(list(submissions))
    teams = await store.teams_of(sorted({submission.person_id for submission in unique}))
    recorded_at = clock()
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
            item, recorded_topic, urgent_topic, needs_immediate_support(submission), time, tracing
        )
    ]
    stored = await store.record(recorded, messages)
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


async def apply_directory_records(
    records: Sequence[tuple[str, DirectoryPerson | None]], store: CheckinStore
) -> None:
    """Apply directory records in order; the last record per person wins, None removes."""
    latest: dict[str, DirectoryPerson | None] = {}
    for person_id, person in records:
        latest[person_id] = person
    upserts = [person for person in latest.values() if person is not None]
    removals = [person_id for person_id, person in latest.items() if person is None]
    await store.apply_directory(upserts, removals)


async def team_trend_for(
    team_id: str, store: CheckinStore, min_people: int, weeks: int = 12
) -> TeamTrend:
    """A team's weekly trend, with every group smaller than ``min_people`` suppressed."""
    return team_trend(team_id, await store.trend_cells(team_id, weeks), min_people)
