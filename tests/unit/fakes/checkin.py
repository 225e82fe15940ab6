"""The check-in service's unit-of-work port, in memory."""

import copy
from collections.abc import Sequence
from datetime import date, timedelta
from types import TracebackType
from typing import Any, Self

from kinship_checkin.domain.checkins import RecordedCheckin
from kinship_checkin.domain.trends import TrendCell
from kinship_contracts.checkins import CheckinSubmitted
from kinship_contracts.directory import DirectoryChange, latest_per_person
from kinship_runtime.outbox import OutboxMessage
from tests.kafka_reading import checkin, encode


class FakeCheckinUnitOfWork:
    """Implements ``kinship_checkin.handlers.ports.CheckinUnitOfWork`` in memory.

    Like the PostgreSQL unit of work it is idempotent by event id (a known id is skipped and
    only the outbox messages of newly stored check-ins are queued) and transactional: what a
    failed unit of work changed is rolled back.
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
        self.directory_calls: list[list[str]] = []
        self.teams_asked: list[list[str]] = []
        self.commits = 0
        self.rollbacks = 0
        self._entered = False
        self._snapshot: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once at a time"
        self._entered = True
        self._snapshot = copy.deepcopy(
            {
                "teams": self.teams,
                "checkins": self.checkins,
                "vault": self.vault,
                "outbox": self.outbox,
            }
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        if exc is None:
            self.commits += 1
            return
        self.rollbacks += 1
        for name, value in self._snapshot.items():
            setattr(self, name, value)

    def _check_entered(self) -> None:
        assert self._entered, "handlers run inside an entered unit of work"

    async def teams_of(self, person_ids: Sequence[str]) -> dict[str, str]:
        self._check_entered()
        self.teams_asked.append(list(person_ids))
        return {person: self.teams[person] for person in person_ids if person in self.teams}

    async def record(
        self, checkins: Sequence[RecordedCheckin], messages: Sequence[OutboxMessage]
    ) -> set[str]:
        self._check_entered()
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

    async def apply_directory(self, changes: Sequence[DirectoryChange]) -> None:
        self._check_entered()
        self.directory_calls.append([change.person_id for change in changes])
        for change in latest_per_person(changes):
            if change.person is None:
                self.teams.pop(change.person_id, None)
            else:
                self.teams[change.person_id] = change.person.team_id

    async def trend_cells(self, team_id: str, weeks: int) -> list[TrendCell]:
        """The team's cells from ``weeks`` weeks before the current week on (as the SQL does)."""
        self._check_entered()
        this_week = self.today - timedelta(days=self.today.weekday())
        since = this_week - timedelta(weeks=weeks)
        return [cell for cell in self.cells.get(team_id, []) if cell.week_start >= since]


def submitted(id_: str = "c-1", person: str = "alice", **fields: Any) -> CheckinSubmitted:
    """A check-in parsed from JSON bytes as it arrives from outside (mood 3 unless given)."""
    return CheckinSubmitted.model_validate_json(encode(checkin(id_, person, **fields)))
