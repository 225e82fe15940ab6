"""In-memory fakes for pure unit tests: no Kafka, no PostgreSQL."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kinship_checkin.domain.checkins import RecordedCheckin
from kinship_checkin.domain.trends import TrendCell
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryPerson
from kinship_runtime.outbox import OutboxMessage
from tests.kafka_reading import checkin, encode


class FakeCheckinStore:
    """Implements the ``CheckinStore`` protocol of ``kinship_checkin.handlers`` in memory.

    Like the PostgreSQL store it is idempotent by event id: a known id is skipped, and only
    the outbox messages of newly stored check-ins are queued.
    """

    def __init__(
        self,
        teams: dict[str, str] | None = None,
        cells: dict[str, list[TrendCell]] | None = None,
        today: date = date(2026, 11, 30),
    ) -> None:
        self.teams: dict[str, str] = dict(teams or {})
        self.cells: dict[str, list[TrendCell]] = dict(cells or {})
        self.today = today
        self.checkins: dict[str, RecordedCheckin] = {}
        self.vault: dict[str, str] = {}
        self.outbox: list[OutboxMessage] = []
        self.record_calls: list[list[str]] = []
        self.directory_calls: list[tuple[list[str], list[str]]] = []
        self.teams_asked: list[list[str]] = []

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        self.teams_asked.append(list(person_ids))
        return {person: self.teams[person] for person in person_ids if person in self.teams}

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        self.record_calls.append([item.event.id for item in checkins])
        new: set[str] = set()
        for item in checkins:
            if item.event.id in self.checkins:
                continue
            self.checkins[item.event.id] = item
            self.vault.setdefault(item.event.subject_id, item.person_id)
            new.add(item.event.id)
        self.outbox += [message for message in messages if message.event_id in new]
        return new

    async def apply_directory(
        self, upserts: Sequence[DirectoryPerson], removals: Sequence[str]
    ) -> None:
        self.directory_calls.append(([person.person_id for person in upserts], list(removals)))
        for person in upserts:
            self.teams[person.person_id] = person.team_id
        for person_id in removals:
            self.teams.pop(person_id, None)

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """The team's cells from ``weeks`` weeks before the current week on (as the SQL does)."""
        this_week = self.today - timedelta(days=self.today.weekday())
        since = this_week - timedelta(weeks=weeks)
        return [cell for cell in self.cells.get(team_id, []) if cell.week_start >= since]


def submitted(id_: str = "c-1", person: str = "alice", **fields: Any) -> CheckinSubmitted:
    """A check-in parsed from JSON bytes as it arrives from outside (mood 3 unless given)."""
    return CheckinSubmitted.model_validate_json(encode(checkin(id_, person, **fields)))


@dataclass
class FakeRecord:
    """The parts of an aiokafka ``ConsumerRecord`` that ingestion reads."""

    value: bytes | None
    key: bytes | None = b"key"
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "wellbeing.checkins.submitted"
    partition: int = 0
    offset: int = 0


@dataclass
class SentRecord:
    """A record handed to the fake producer."""

    topic: str
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]


class FakeProducer:
    """Stands in for ``AIOKafkaProducer.send``: returns an already acknowledged future."""

    def __init__(self) -> None:
        self.sent: list[SentRecord] = []

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> "asyncio.Future[None]":
        self.sent.append(SentRecord(topic, value, key, list(headers or [])))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future
